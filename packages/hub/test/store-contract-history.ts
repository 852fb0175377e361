/**
 * Each message's history (docs/message-history.md) in the store contract, run on SQLite and
 * PostgreSQL: every step written with the op it records, in order, with its time, count, lock
 * token, protocol, sender and feedback record; each way out of the queue; a requeued dead letter's
 * two copies; the retention (read and the scheduler's expire, from the copy's end); retention 0.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HistoryEvent, QueuePolicy } from '../src/store/types.js';
import { job } from './job-store-contract.js';
import { type ContractKit, device, message, POLICY, T0 } from './store-contract-kit.js';

const HOUR = 3_600_000;
const ON: QueuePolicy = {
  ...POLICY,
  deadLetters: { retentionMs: 24 * HOUR, maxPerDevice: 10 },
  history: { retentionMs: HOUR },
};

/** kind@ms-after-T0#deliveryCount, the shape most assertions compare. */
const steps = (events: HistoryEvent[]) =>
  events.map((e) => `${e.sequenceNumber}:${e.kind}@${e.at - T0}#${e.deliveryCount}`);

export function historyContract(kit: ContractKit): void {
  describe('message history', () => {
    const enqueue = (id: string | undefined, extra = {}, now = T0, policy = ON) =>
      kit.one({ kind: 'enqueue', message: message('d', 'body', { messageId: id, ...extra }) }, now, policy);
    const lease = async (now = T0, protocol = 'mqtt', policy = ON) =>
      (await kit.one({ kind: 'lease', deviceId: 'd', max: 1, protocol }, now, policy)).deliveries[0]!;
    const settle = (lockToken: string, action: 'complete' | 'abandon' | 'reject', now = T0, policy = ON) =>
      kit.one({ kind: 'settle', deviceId: 'd', lockToken, action }, now, policy);
    const history = (id: string, now = T0 + 10_000, policy = ON) =>
      kit.store.messageHistory('d', id, now, policy.history.retentionMs);

    test('abandoned twice then completed with ack full: every step in order, and its feedback record', async () => {
      await kit.store.insertDevice(device('d'));
      // A job's copy (jobs/): its ledger row must be pending.
      await kit.store.insertJob(job('job-1'));
      await kit.store.addJobDevices('job-1', ['d'], 'd', T0);
      const m1 = message('d', 'x', { messageId: 'm1', ack: 'full' });
      await kit.one({ kind: 'enqueue', message: m1, job: 'job-1', origin: { policy: 'service' } }, T0, ON);
      const first = await lease(T0 + 10);
      await settle(first.lockToken, 'abandon', T0 + 20);
      const second = await lease(T0 + 30, 'amqp');
      await settle(second.lockToken, 'abandon', T0 + 40);
      const third = await lease(T0 + 50, 'https');
      await settle(third.lockToken, 'complete', T0 + 60);
      const h = await history('m1');
      assert.deepEqual(steps(h), [
        '1:enqueued@0#0',
        '1:delivered@10#0',
        '1:abandoned@20#1',
        '1:delivered@30#1',
        '1:abandoned@40#2',
        '1:delivered@50#2',
        '1:completed@60#2',
      ]);
      assert.deepEqual([h[0]!.policy, h[0]!.jobId], ['service', 'job-1']);
      assert.deepEqual(
        h.filter((e) => e.kind === 'delivered').map((e) => [e.protocol, e.lockToken]),
        [
          ['mqtt', first.lockToken],
          ['amqp', second.lockToken],
          ['https', third.lockToken],
        ],
      );
      assert.deepEqual(h[6]!.feedback, {
        originalMessageId: 'm1',
        enqueuedTimeUtc: new Date(T0 + 60).toISOString(),
        statusCode: 'Success',
        description: 'Success',
        deviceId: 'd',
        deviceGenerationId: 'g-d',
      });
      assert.equal(h[0]!.feedback, undefined);
    });

    test('each way out: rejected, expired, purged, over-abandoned, quiet complete; released and lock expiry', async () => {
      await kit.store.insertDevice(device('d'));
      await enqueue('rej', { ack: 'negative' });
      await settle((await lease()).lockToken, 'reject', T0 + 1);
      await enqueue('quiet');
      await settle((await lease()).lockToken, 'complete', T0 + 2);
      await enqueue('rel');
      const rel = await lease(T0 + 3);
      await kit.one({ kind: 'release', deviceId: 'd', lockTokens: [rel.lockToken] }, T0 + 4, ON);
      await lease(T0 + 5);
      // The lock (60 s) runs out; the scheduler's batch puts it back.
      await kit.one({ kind: 'expire', limit: 100 }, T0 + 60_005, ON);
      await settle((await lease(T0 + 60_006)).lockToken, 'complete', T0 + 60_007);
      await enqueue('exp', { expiryTimeUtc: T0 + 70_000 }, T0 + 60_010);
      await enqueue('over', {}, T0 + 70_000);
      for (let i = 0; i < ON.maxDeliveryCount; i++)
        await settle((await lease(T0 + 80_000)).lockToken, 'abandon', T0 + 80_000);
      await enqueue('purged', {}, T0 + 90_000);
      await kit.one({ kind: 'purge', deviceId: 'd' }, T0 + 90_001, ON);
      await enqueue(undefined, {}, T0 + 90_002);
      const now = T0 + 100_000;
      assert.deepEqual(steps(await history('rej', now)), ['1:enqueued@0#0', '1:delivered@0#0', '1:rejected@1#0']);
      assert.equal((await history('rej', now))[2]!.feedback?.statusCode, 'Rejected');
      const quiet = await history('quiet', now);
      assert.deepEqual(steps(quiet), ['2:enqueued@0#0', '2:delivered@0#0', '2:completed@2#0']);
      assert.equal(quiet[2]!.feedback, undefined, 'ack none: no feedback record');
      assert.deepEqual(steps(await history('rel', now)), [
        '3:enqueued@0#0',
        '3:delivered@3#0',
        '3:released@4#0',
        '3:delivered@5#0',
        '3:lockExpired@60005#0',
        '3:delivered@60006#0',
        '3:completed@60007#0',
      ]);
      // Expired by the first op on the device after its expiry (the enqueue of "over" at 70 s).
      assert.deepEqual(steps(await history('exp', now)), ['4:enqueued@60010#0', '4:expired@70000#0']);
      assert.deepEqual(steps(await history('over', now)).slice(-3), [
        '5:delivered@80000#2',
        '5:abandoned@80000#3',
        '5:deadLettered@80000#3',
      ]);
      assert.deepEqual(steps(await history('purged', now)), ['6:enqueued@90000#0', '6:purged@90001#0']);
    });

    test('a requeued dead letter: the old copy ends "requeued" (as which), the new one starts from it', async () => {
      await kit.store.insertDevice(device('d'));
      await enqueue('m');
      await settle((await lease()).lockToken, 'reject', T0 + 1);
      const back = await kit.one(
        { kind: 'requeueDeadLetter', deviceId: 'd', sequenceNumber: 1, expiryTimeUtc: T0 + HOUR },
        T0 + 2,
        ON,
      );
      assert.deepEqual(back, { ok: true, sequenceNumber: 2 });
      const h = await history('m');
      assert.deepEqual(steps(h), [
        '1:enqueued@0#0',
        '1:delivered@0#0',
        '1:rejected@1#0',
        '1:requeued@2#0',
        '2:enqueued@2#0',
      ]);
      assert.equal(h[3]!.requeuedAs, 2);
      assert.equal(h[4]!.requeuedFrom, 1);
    });

    test('kept for the retention after the copy ends, never while it is pending; expire removes it', async () => {
      await kit.store.insertDevice(device('d'));
      await enqueue('done');
      await settle((await lease()).lockToken, 'complete', T0 + 1000);
      await enqueue('pending', { expiryTimeUtc: T0 + 3 * HOUR });
      assert.equal(await kit.store.nextDeadline(ON), T0 + 1000 + HOUR, 'the end + retention, before the TTL');
      assert.equal((await history('done', T0 + 1000 + HOUR - 1)).length, 3);
      assert.deepEqual(await history('done', T0 + 1000 + HOUR), [], 'past the retention: not shown');
      await kit.one({ kind: 'expire', limit: 100 }, T0 + 1000 + HOUR, ON);
      assert.deepEqual(await kit.store.messageHistory('d', 'done', T0, 10 * HOUR), [], 'removed by the scheduler');
      assert.deepEqual(steps(await history('pending', T0 + 2 * HOUR)), ['2:enqueued@0#0'], 'a pending copy is kept');
    });

    test('retention 0 records nothing; deleting the device deletes its history', async () => {
      await kit.store.insertDevice(device('d'));
      const off: QueuePolicy = { ...ON, history: { retentionMs: 0 } };
      await enqueue('off', {}, T0, off);
      await settle((await lease(T0, 'mqtt', off)).lockToken, 'complete', T0, off);
      assert.deepEqual(await history('off', T0, ON), []);
      await enqueue('gone');
      assert.equal((await history('gone')).length, 1);
      await kit.store.deleteDevice('d');
      await kit.store.insertDevice(device('d'));
      assert.deepEqual(await history('gone'), []);
    });
  });
}
