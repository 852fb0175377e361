/**
 * The jobs domain with a manual clock over a real SQLite store and engine: pacing to
 * jobs.maxDevicesPerSecond, a full queue retried until the job's time runs out (then 403004),
 * a cancel that stops a running job at its next batch, a claim renewed while the job runs, and
 * a job whose claim another node took is left to it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FerryError } from '@ferry/common';
import pino from 'pino';
import { ManualClock } from '../src/clock.js';
import type { JobsConfig } from '../src/config/types.js';
import { Engine } from '../src/engine/engine.js';
import { Jobs } from '../src/jobs/index.js';
import type { MethodCall } from '../src/methods/index.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { C2D_DEFAULTS, deviceRecord, FEEDBACK_DEFAULTS } from './engine-harness.js';

const T0 = Date.UTC(2026, 0, 1);

/** Lets every promise chain that is ready run (the store answers at once in memory). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
}

async function setUp(o: { devices: number; config?: Partial<JobsConfig>; maxQueueDepth?: number }) {
  const clock = new ManualClock(T0);
  const store = new SqliteStore({ path: ':memory:' });
  const ids = Array.from({ length: o.devices }, (_, i) => `d${String(i).padStart(3, '0')}`);
  for (const id of ids) await store.insertDevice(deviceRecord(id));
  const engine = new Engine({
    store,
    clock,
    c2d: { ...C2D_DEFAULTS, maxQueueDepth: o.maxQueueDepth ?? 50 },
    feedback: FEEDBACK_DEFAULTS,
  });
  engine.start();
  const invoked: string[] = [];
  const jobs = new Jobs({
    store,
    clock,
    nodeId: 'n1',
    config: {
      maxDevicesPerSecond: 10,
      leaseMs: 3000,
      pollIntervalMs: 100,
      retryIntervalMs: 1000,
      maxConcurrent: 4,
      retentionMs: 0,
      ...o.config,
    },
    logger: pino({ level: 'silent' }),
    twins: {
      selectDevices: async (_c, after, limit) => ids.filter((id) => id > after).slice(0, limit),
      checkCondition: () => undefined,
      update: async () => ({}),
    },
    methods: {
      invoke: async (deviceId: string, _call: MethodCall) => {
        invoked.push(deviceId);
        return { status: 200, payload: null };
      },
    },
    c2d: engine,
  });
  jobs.start();
  const stop = async () => {
    await jobs.stop();
    await engine.stop();
    await store.close();
  };
  return { clock, store, engine, jobs, ids, invoked, stop };
}

const method = (jobId: string, extra = {}) => ({
  jobId,
  type: 'scheduleDeviceMethod',
  queryCondition: 'true = true',
  cloudToDeviceMethod: { methodName: 'reboot' },
  ...extra,
});

test('a job is paced to jobs.maxDevicesPerSecond: 10 devices per second of clock', async () => {
  const h = await setUp({ devices: 35 });
  try {
    await h.jobs.create('paced', method('paced'));
    await settle();
    h.clock.advance(0);
    await settle();
    assert.equal(h.invoked.length, 10);
    let before = 10;
    for (const expected of [20, 30, 35]) {
      h.clock.advance(999);
      await settle();
      assert.equal(h.invoked.length, before, 'not before the second is over');
      before = expected;
      h.clock.advance(1);
      await settle();
      assert.equal(h.invoked.length, expected);
    }
    h.clock.advance(100);
    await settle();
    const view = await h.jobs.get('paced');
    assert.equal(view.job.status, 'completed');
    assert.deepEqual(view.devices, { pending: 0, completed: 35, failed: 0, cancelled: 0 });
    assert.equal(new Set(h.invoked).size, 35);
  } finally {
    await h.stop();
  }
});

test('a full queue is retried every jobs.retryIntervalMs, then failed with 403004 when the time runs out', async () => {
  const h = await setUp({ devices: 3, maxQueueDepth: 1, config: { maxDevicesPerSecond: 1000 } });
  try {
    for (const id of ['d000', 'd001']) await h.engine.send(id, { body: Buffer.from('fill') });
    await h.jobs.create('c2d', {
      type: 'scheduleCloudToDeviceMessage',
      queryCondition: 'true = true',
      maxExecutionTimeInSeconds: 5,
      cloudToDeviceMessage: { body: Buffer.from('copy').toString('base64'), messageId: 'm' },
    });
    await settle();
    h.clock.advance(0);
    await settle();
    let view = await h.jobs.get('c2d');
    assert.deepEqual(view.devices, { pending: 2, completed: 1, failed: 0, cancelled: 0 });
    // d000 drains: its copy goes at the next retry.
    const [fill] = await h.engine.receive('d000');
    await h.engine.complete('d000', fill!.lockToken);
    h.clock.advance(1000);
    await settle();
    view = await h.jobs.get('c2d');
    assert.deepEqual(view.devices, { pending: 1, completed: 2, failed: 0, cancelled: 0 });
    h.clock.advance(4000);
    await settle();
    view = await h.jobs.get('c2d');
    assert.equal(view.job.status, 'completed');
    assert.deepEqual(view.devices, { pending: 0, completed: 2, failed: 1, cancelled: 0 });
    const rows = await h.store.listJobDevices('c2d', '', 10);
    assert.equal(rows[1]!.error?.errorCode, '403004');
    assert.equal(await h.engine.queueDepth('d000'), 1);
  } finally {
    await h.stop();
  }
});

test('cancel stops a running job at its next batch; its pending devices are cancelled', async () => {
  const h = await setUp({ devices: 30 });
  try {
    await h.jobs.create('stopped', method('stopped'));
    await settle();
    h.clock.advance(0);
    await settle();
    assert.equal(h.invoked.length, 10);
    const cancelled = await h.jobs.cancel('stopped');
    assert.equal(cancelled.job.status, 'cancelled');
    assert.deepEqual(cancelled.devices, { pending: 0, completed: 10, failed: 0, cancelled: 20 });
    h.clock.advance(5000);
    await settle();
    assert.equal(h.invoked.length, 10);
    assert.equal((await h.jobs.get('stopped')).job.status, 'cancelled');
  } finally {
    await h.stop();
  }
});

test('the claim is renewed while the job runs; a claim another node took stops this node until it expires', async () => {
  const h = await setUp({ devices: 60 });
  try {
    await h.jobs.create('held', method('held'));
    await settle();
    h.clock.advance(0);
    await settle();
    h.clock.advance(2000);
    await settle();
    const job = await h.store.getJob('held');
    assert.equal(job?.leaseOwner, 'n1');
    assert.equal(job?.leaseUntil, T0 + 4000, 'renewed past the first claim (T0 + 3000)');
    // Another node took it (as if this one had stalled past its lease).
    await h.store.updateJob('held', { leaseOwner: 'n2' }, 'n1');
    h.clock.advance(1000);
    await settle();
    const before = h.invoked.length;
    // Until the claim n2 took expires (T0 + 4000, set by n1's renewal at T0 + 1000), n1 leaves the job alone.
    assert.equal((await h.store.getJob('held'))?.leaseUntil, T0 + 4000);
    h.clock.advance(500);
    await settle();
    assert.equal(h.invoked.length, before, 'this node stopped');
    assert.ok(before < 60);
    // n2 never renewed: n1 claims the job again and finishes it, each device once.
    for (let i = 0; i < 10; i++) {
      h.clock.advance(1000);
      await settle();
    }
    assert.equal((await h.jobs.get('held')).job.status, 'completed');
    assert.equal(h.invoked.length, 60);
    assert.equal(new Set(h.invoked).size, 60);
  } finally {
    await h.stop();
  }
});

test('bad jobs are refused with IoT Hub codes and nothing is stored', async () => {
  const h = await setUp({ devices: 1 });
  try {
    const refused = async (jobId: string, body: unknown, code: string) => {
      await assert.rejects(h.jobs.create(jobId, body), (e: unknown) => e instanceof FerryError && e.errorName === code);
    };
    await refused('a', { type: 'nope', queryCondition: 'x = 1' }, 'ArgumentInvalid');
    await refused('a', { type: 'scheduleDeviceMethod', cloudToDeviceMethod: { methodName: 'm' } }, 'ArgumentNull');
    await refused('a', method('a', { cloudToDeviceMethod: {} }), 'ArgumentNull');
    await refused('a', method('a', { startTime: 'soon' }), 'ArgumentInvalid');
    await refused('a', method('a', { maxExecutionTimeInSeconds: 0 }), 'ArgumentInvalid');
    await refused('a', method('b'), 'ArgumentInvalid');
    await refused('bad id with spaces', method('bad id with spaces'), 'ArgumentInvalid');
    await refused(
      'a',
      { type: 'scheduleUpdateTwin', queryCondition: 'x = 1', updateTwin: { properties: { reported: { a: 1 } } } },
      'ArgumentInvalid',
    );
    await refused(
      'a',
      { type: 'scheduleCloudToDeviceMessage', queryCondition: 'x = 1', cloudToDeviceMessage: { body: 'not base64!' } },
      'ArgumentInvalid',
    );
    await assert.rejects(h.jobs.get('a'), (e: unknown) => e instanceof FerryError && e.errorName === 'NotFound');
    await h.jobs.create('a', method('a'));
    await refused('a', method('a'), 'ArgumentInvalid');
  } finally {
    await h.stop();
  }
});
