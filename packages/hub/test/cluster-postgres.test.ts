/**
 * Two nodes in one process on one PostgreSQL schema: each with its own store (pool), LISTEN/NOTIFY
 * signal bus and engine, as two hub processes have. Signals cross between them, a node ignores its
 * own, and a dropped LISTEN connection comes back by itself.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Delivery } from '@ferry/common';
import pg from 'pg';
import pino from 'pino';
import { systemClock } from '../src/clock.js';
import { PostgresSignalBus } from '../src/cluster/postgres-signal-bus.js';
import { Engine } from '../src/engine/engine.js';
import type { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { awaitOnce, C2D_DEFAULTS, deviceRecord, FEEDBACK_DEFAULTS, msg } from './engine-harness.js';
import { dropSchemasWhenPassed, openTestStore, PG_URL, testSchema } from './pg-test-db.js';

dropSchemasWhenPassed();

interface Node {
  store: PostgresStore;
  bus: PostgresSignalBus;
  engine: Engine;
  close(): Promise<void>;
}

async function startNode(
  schema: string,
  busOptions: { retryMs?: number; heartbeatMs?: number } = { retryMs: 50 },
): Promise<Node> {
  const store = await openTestStore(schema);
  const bus = new PostgresSignalBus({
    url: PG_URL,
    channel: store.channel,
    nodeId: store.nodeId,
    pool: store.pool,
    logger: pino({ level: 'silent' }),
    ...busOptions,
  });
  await bus.start();
  const engine = new Engine({
    store,
    clock: systemClock,
    c2d: C2D_DEFAULTS,
    feedback: { ...FEEDBACK_DEFAULTS, batchDelayMs: 0 },
    signals: bus,
  });
  engine.start();
  return {
    store,
    bus,
    engine,
    async close() {
      await engine.stop();
      await bus.close();
      await store.close();
    },
  };
}

/** Ends node's LISTEN connection from the server side, as a database restart does. */
async function terminateListen(node: Node): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    const r = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      `ferry-signals-${node.store.nodeId}`,
    ]);
    assert.equal(r.rowCount, 1);
  } finally {
    await admin.end();
  }
}

/** Delivered within 10 s, or the test fails. */
async function within10s(waiting: { deliveries: Promise<Delivery[]>; cancel(): void }): Promise<string[]> {
  const timer = setTimeout(() => waiting.cancel(), 10_000);
  const got = await waiting.deliveries;
  clearTimeout(timer);
  return got.map((m) => m.body.toString());
}

/** Resolves on the first call of the returned callback; fails the test after 10 s. */
function once<A extends unknown[]>(what: string): { fn: (...args: A) => void; called: Promise<A> } {
  let fn!: (...args: A) => void;
  const called = new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not called within 10 s`)), 10_000);
    fn = (...args: A) => {
      clearTimeout(timer);
      resolve(args);
    };
  });
  return { fn, called };
}

describe('two nodes on one PostgreSQL schema', () => {
  let a: Node;
  let b: Node;
  beforeEach(async () => {
    const schema = testSchema();
    [a, b] = await Promise.all([startNode(schema), startNode(schema)]);
    await a.store.insertDevice(deviceRecord('d'));
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  test('a send through node A wakes the receiver on node B; its feedback wakes node A', async () => {
    const woken = once('node B device signal');
    const off = b.engine.onAvailable('d', woken.fn);
    const feedback = once('node A feedback signal');
    const offFeedback = a.engine.onFeedbackAvailable(feedback.fn);
    await a.engine.send('d', msg('hello', { ack: 'positive', messageId: 'm1' }));
    await woken.called;
    off();
    const [m] = await b.engine.receive('d');
    assert.equal(m?.body.toString(), 'hello');
    await b.engine.complete('d', m!.lockToken);
    await feedback.called;
    offFeedback();
    const batch = await a.engine.receiveFeedback();
    assert.deepEqual(
      batch?.records.map((r) => [r.originalMessageId, r.statusCode]),
      [['m1', 'Success']],
    );
  });

  test('a receiver waiting on node B (direct delivery) gets a message sent through node A', async () => {
    const waiting = awaitOnce(b.engine, 'd', 5);
    await a.engine.send('d', msg('direct'));
    assert.deepEqual(await within10s(waiting), ['direct']);
  });

  test('registry changes and connection claims reach the other node, and a node ignores its own', async () => {
    const seenByA: string[] = [];
    a.bus.onRemoteDeviceChange((id) => seenByA.push(id));
    const change = once<[string]>('node B device change');
    b.bus.onRemoteDeviceChange(change.fn);
    a.bus.publishDeviceChange('d');
    assert.deepEqual(await change.called, ['d']);
    const claim = once<[string, string, number]>('node B connection claim');
    b.bus.onRemoteConnection(claim.fn);
    a.bus.publishConnection('mqtt', 'd', 1234);
    assert.deepEqual(await claim.called, ['mqtt', 'd', 1234]);
    // NOTIFYs arrive in commit order: once B's marker reached A, A's own change had arrived before it.
    const marker = once<[string]>('node A marker');
    a.bus.onRemoteDeviceChange(marker.fn);
    b.bus.publishDeviceChange('marker');
    await marker.called;
    assert.deepEqual(seenByA, ['marker']);
  });

  test('feedback records reach the other node in order, many of them in several NOTIFYs, a node ignoring its own', async () => {
    const records = Array.from({ length: 300 }, (_, i) => ({
      originalMessageId: `m${i}-${'x'.repeat(100)}`,
      deviceGenerationId: '636146743722094236',
      deviceId: 'd',
      enqueuedTimeUtc: new Date(0).toISOString(),
      statusCode: 'Success' as const,
      description: 'Success',
    }));
    const seenByA: unknown[] = [];
    a.bus.onRemoteFeedbackRecords((r) => seenByA.push(...r));
    const seenByB: string[] = [];
    const all = once('all 300 records on node B');
    b.bus.onRemoteFeedbackRecords((r) => {
      seenByB.push(...r.map((x) => x.originalMessageId));
      if (seenByB.length >= records.length) all.fn();
    });
    // One turn's records (about 50 KB) go out together, in payloads PostgreSQL accepts.
    a.bus.publishFeedbackRecords(records.slice(0, 200));
    a.bus.publishFeedbackRecords(records.slice(200));
    await all.called;
    assert.deepEqual(
      seenByB,
      records.map((r) => r.originalMessageId),
    );
    const marker = once('node A marker');
    a.bus.onRemoteDeviceChange(marker.fn);
    b.bus.publishDeviceChange('marker');
    await marker.called;
    assert.deepEqual(seenByA, []);
  });

  test('a dropped LISTEN connection reconnects, wakes every listener, and signals flow again', async () => {
    const resync = once('wake after reconnect');
    const off = b.engine.onAvailable('idle-device', resync.fn);
    await terminateListen(b);
    await resync.called;
    off();
    await b.bus.whenListening();
    const woken = once('node B device signal after reconnect');
    const offD = b.engine.onAvailable('d', woken.fn);
    await a.engine.send('d', msg('again'));
    await woken.called;
    offD();
  });

  test('a receiver waiting on node B gets a message committed through node A while B was not listening', async () => {
    await b.close();
    // Slow to reconnect, so that the send below surely commits while B hears nothing.
    b = await startNode(a.store.schema, { retryMs: 1500 });
    const waiting = awaitOnce(b.engine, 'd', 5);
    await terminateListen(b);
    for (let i = 0; b.bus.listeningNow; i++) {
      assert.ok(i < 2000, 'B still listening 10 s after its LISTEN connection was terminated');
      await new Promise((r) => setTimeout(r, 5));
    }
    await a.engine.send('d', msg('missed'));
    assert.equal(b.bus.listeningNow, false, 'the send committed before B listened again');
    // B's NOTIFY went nowhere; once B listens again, its waiting receiver reads the queue.
    assert.deepEqual(await within10s(waiting), ['missed']);
  });

  test('a LISTEN connection that stops hearing is found out by its heartbeat and replaced', async () => {
    await b.close();
    b = await startNode(a.store.schema, { retryMs: 50, heartbeatMs: 200 });
    const waiting = awaitOnce(b.engine, 'd', 5);
    // The connection stays up but hears nothing more, as a half-open TCP connection does.
    await (b.bus as unknown as { client: pg.Client }).client.query('UNLISTEN *');
    await a.engine.send('d', msg('unheard'));
    assert.deepEqual(await within10s(waiting), ['unheard']);
    // And signals flow again on the new connection.
    const woken = once('node B device signal after the heartbeat');
    const off = b.engine.onAvailable('d2', woken.fn);
    await a.store.insertDevice(deviceRecord('d2'));
    await a.engine.send('d2', msg('heard'));
    await woken.called;
    off();
  });
});

test('a heartbeat the pool has not sent yet (a busy pool) does not count against the LISTEN connection', async () => {
  const bus = new PostgresSignalBus({
    url: PG_URL,
    channel: `ferry_${testSchema()}`,
    nodeId: 'busy-pool-node',
    // A pool whose every query waits (all its connections busy): no heartbeat ever leaves.
    pool: { query: () => new Promise(() => undefined) } as unknown as pg.Pool,
    logger: pino({ level: 'silent' }),
    retryMs: 60_000,
    heartbeatMs: 50,
  });
  await bus.start();
  try {
    // Real time is the point: the bus's heartbeat timer is real. A slow machine only lets fewer
    // heartbeats come due in these 500 ms (a weaker test), never makes a correct bus fail it.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(bus.listeningNow, true, `still listening after ${(i + 1) * 50} ms`);
    }
  } finally {
    await bus.close();
  }
});
