/**
 * The jobs domain's store contract (jobs/types.ts), run on every adapter (job-store.test.ts):
 * jobs stored and listed, one claimer per due job whoever asks, the lease and status guards of
 * updates, the per-device ledger, and a C2D job's copy enqueued only while its ledger row is
 * pending (the row marked in the enqueue's transaction).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { JobRecord } from '../src/jobs/types.js';
import type { Store } from '../src/store/types.js';
import { device, message, POLICY, T0 } from './store-contract-kit.js';

export function job(jobId: string, extra: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId,
    type: 'scheduleCloudToDeviceMessage',
    status: 'queued',
    queryCondition: "tags.site = 'plant-3'",
    createdTime: T0,
    startTime: T0,
    endTime: null,
    maxExecutionTimeInSeconds: 60,
    parameters: { cloudToDeviceMessage: { body: 'aGk=' } },
    failureReason: null,
    selected: false,
    selectedThrough: '',
    leaseOwner: null,
    leaseUntil: null,
    ...extra,
  };
}

const QUEUE_FULL = { code: 'DeviceMaximumQueueDepthExceeded', errorCode: '403004', description: 'full' };

export function runJobStoreContract(name: string, open: () => Promise<Store>): void {
  describe(`job store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => {
      await store.close();
    });

    test('a job is stored once, read back as written, and listed by id with its filters', async () => {
      const a = job('a', { parameters: { cloudToDeviceMethod: { methodName: 'reboot', payload: { n: 1 } } } });
      assert.equal(await store.insertJob(a), true);
      assert.equal(await store.insertJob(job('a')), false);
      assert.deepEqual(await store.getJob('a'), a);
      assert.equal(await store.getJob('nope'), undefined);
      await store.insertJob(job('c', { type: 'scheduleUpdateTwin', status: 'completed' }));
      await store.insertJob(job('b'));
      assert.deepEqual(
        (await store.listJobs({ limit: 10 })).map((j) => j.jobId),
        ['a', 'b', 'c'],
      );
      assert.deepEqual(
        (await store.listJobs({ limit: 10, afterJobId: 'a' })).map((j) => j.jobId),
        ['b', 'c'],
      );
      assert.deepEqual(
        (await store.listJobs({ limit: 1 })).map((j) => j.jobId),
        ['a'],
      );
      assert.deepEqual(
        (await store.listJobs({ limit: 10, type: 'scheduleUpdateTwin' })).map((j) => j.jobId),
        ['c'],
      );
      assert.deepEqual(
        (await store.listJobs({ limit: 10, status: 'queued' })).map((j) => j.jobId),
        ['a', 'b'],
      );
    });

    test('claims: only due jobs, one claimer while the lease holds, another after it expired', async () => {
      await store.insertJob(job('later', { startTime: T0 + 10_000 }));
      await store.insertJob(job('done', { status: 'completed' }));
      await store.insertJob(job('now'));
      const claims = await Promise.all([store.claimJob('n1', T0, 1000), store.claimJob('n2', T0, 1000)]);
      const won = claims.filter((c) => c !== undefined);
      assert.equal(won.length, 1);
      assert.equal(won[0]!.jobId, 'now');
      assert.equal(won[0]!.status, 'running');
      assert.equal(won[0]!.leaseUntil, T0 + 1000);
      assert.equal(await store.claimJob('n2', T0 + 999, 1000), undefined);
      const again = await store.claimJob('n2', T0 + 1000, 1000);
      assert.equal(again?.jobId, 'now');
      assert.equal(again?.leaseOwner, 'n2');
      assert.equal(await store.updateJob('now', { leaseUntil: T0 + 20_000 }, 'n2'), true);
      assert.equal((await store.claimJob('n3', T0 + 10_000, 1000))?.jobId, 'later');
    });

    test('updates: guarded by the lease owner and by the job being active', async () => {
      await store.insertJob(job('j'));
      const owner = (await store.claimJob('n1', T0, 1000))!.leaseOwner!;
      assert.equal(await store.updateJob('j', { leaseUntil: T0 + 5000 }, 'n2'), false);
      assert.equal(await store.updateJob('j', { leaseUntil: T0 + 5000, selected: true }, owner), true);
      assert.equal((await store.getJob('j'))?.selected, true);
      assert.equal(await store.updateJob('j', { status: 'cancelled', endTime: T0 + 1 }, null), true);
      assert.equal(await store.updateJob('j', { status: 'completed' }, owner), false);
      const j = await store.getJob('j');
      assert.equal(j?.status, 'cancelled');
      assert.equal(j?.endTime, T0 + 1);
      assert.equal(await store.updateJob('missing', { leaseUntil: 1 }, null), false);
    });

    test('the ledger: rows added once, pending ones paged, results written on pending rows only', async () => {
      await store.insertJob(job('j'));
      await store.addJobDevices('j', ['d2', 'd1', 'd3'], 'd3', T0);
      await store.addJobDevices('j', ['d3', 'd4'], 'd4', T0 + 1);
      assert.equal((await store.getJob('j'))?.selectedThrough, 'd4');
      assert.deepEqual(await store.pendingJobDevices('j', '', 10), ['d1', 'd2', 'd3', 'd4']);
      assert.deepEqual(await store.pendingJobDevices('j', 'd1', 2), ['d2', 'd3']);
      const n = await store.recordJobDevices(
        'j',
        [
          { deviceId: 'd1', status: 'completed', outcome: { deviceMethodResponse: { status: 200, payload: null } } },
          { deviceId: 'd2', status: 'pending', error: QUEUE_FULL },
          {
            deviceId: 'd3',
            status: 'failed',
            error: { code: 'DeviceNotFound', errorCode: '404001', description: 'x' },
          },
        ],
        T0 + 5,
      );
      assert.equal(n, 3);
      assert.equal(await store.recordJobDevices('j', [{ deviceId: 'd1', status: 'failed' }], T0 + 6), 0);
      assert.deepEqual(await store.pendingJobDevices('j', '', 10), ['d2', 'd4']);
      assert.deepEqual(await store.countJobDevices('j'), { pending: 2, completed: 1, failed: 1, cancelled: 0 });
      assert.equal(await store.closeJobDevices('j', 'failed', { ...QUEUE_FULL, code: 'GatewayTimeout' }, T0 + 9), 2);
      const rows = await store.listJobDevices('j', '', 10);
      assert.deepEqual(
        rows.map((r) => [r.deviceId, r.status, r.error?.code ?? null, r.endTime]),
        [
          ['d1', 'completed', null, T0 + 5],
          ['d2', 'failed', 'DeviceMaximumQueueDepthExceeded', T0 + 9],
          ['d3', 'failed', 'DeviceNotFound', T0 + 5],
          ['d4', 'failed', 'GatewayTimeout', T0 + 9],
        ],
      );
      assert.deepEqual(rows[0]!.outcome, { deviceMethodResponse: { status: 200, payload: null } });
      assert.equal(rows[0]!.createdTime, T0);
      assert.deepEqual(await store.listJobDevices('j', 'd3', 10).then((r) => r.map((x) => x.deviceId)), ['d4']);
      assert.deepEqual(await store.countJobDevices('none'), { pending: 0, completed: 0, failed: 0, cancelled: 0 });
    });

    test('finished jobs that ended before the cut are deleted with their ledgers; active ones stay', async () => {
      await store.insertJob(job('old', { status: 'completed', endTime: T0 }));
      await store.insertJob(job('old-cancelled', { status: 'cancelled', endTime: T0 + 1 }));
      await store.insertJob(job('recent', { status: 'failed', endTime: T0 + 100 }));
      await store.insertJob(job('running', { status: 'running' }));
      await store.addJobDevices('old', ['d1', 'd2'], 'd2', T0);
      await store.addJobDevices('running', ['d1'], 'd1', T0);
      assert.equal(await store.deleteFinishedJobs(T0 + 100, 1), 1);
      assert.equal(await store.deleteFinishedJobs(T0 + 100, 10), 1);
      assert.equal(await store.deleteFinishedJobs(T0 + 100, 10), 0);
      assert.deepEqual(
        (await store.listJobs({ limit: 10 })).map((j) => j.jobId),
        ['recent', 'running'],
      );
      assert.deepEqual(await store.listJobDevices('old', '', 10), []);
      assert.equal((await store.listJobDevices('running', '', 10)).length, 1);
    });

    test("a job's C2D copy: enqueued while its row is pending, the row marked in the same commit, never twice", async () => {
      await store.insertDevice(device('d1'));
      await store.insertDevice(device('d2'));
      await store.insertJob(job('j'));
      await store.addJobDevices('j', ['d1', 'd2'], 'd2', T0);
      const copy = (deviceId: string) => ({
        kind: 'enqueue' as const,
        message: message(deviceId, 'x', { messageId: 'm-1' }),
        job: 'j',
      });
      const first = await store.commit([copy('d1'), copy('d1')], T0 + 1, POLICY);
      assert.deepEqual(first.results[0], { ok: true, sequenceNumber: 1 });
      assert.deepEqual(first.results[1], { ok: false, error: 'JobDeviceNotPending' });
      assert.equal(await store.queueDepth('d1', T0 + 1), 1);
      const [row] = await store.listJobDevices('j', '', 1);
      assert.equal(row?.status, 'completed');
      assert.deepEqual(row?.outcome, { sequenceNumber: 1, messageId: 'm-1' });
      // A device that is not in the job, and a full queue: nothing sent, the row stays pending.
      const other = await store.commit([{ ...copy('d3') }], T0 + 2, POLICY);
      assert.deepEqual(other.results[0], { ok: false, error: 'JobDeviceNotPending' });
      for (let i = 0; i < POLICY.maxQueueDepth; i++) {
        await store.commit([{ kind: 'enqueue', message: message('d2', `m${i}`) }], T0 + 2, POLICY);
      }
      const full = await store.commit([copy('d2')], T0 + 3, POLICY);
      assert.deepEqual(full.results[0], { ok: false, error: 'DeviceMaximumQueueDepthExceeded' });
      assert.deepEqual(await store.pendingJobDevices('j', '', 10), ['d2']);
      // A cancelled row: no copy.
      await store.closeJobDevices('j', 'cancelled', null, T0 + 4);
      await store.commit([{ kind: 'purge', deviceId: 'd2' }], T0 + 4, POLICY);
      const cancelled = await store.commit([copy('d2')], T0 + 5, POLICY);
      assert.deepEqual(cancelled.results[0], { ok: false, error: 'JobDeviceNotPending' });
      assert.equal(await store.queueDepth('d2', T0 + 5), 0);
    });
  });
}
