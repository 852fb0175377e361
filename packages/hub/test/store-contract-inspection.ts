/** The read-only part of the store contract (InspectionStore) and CommitResult.feedbackRecords. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ContractKit, device, message, POLICY, T0 } from './store-contract-kit.js';

export function inspectionContract(kit: ContractKit): void {
  describe('read-only queries', () => {
    test('listDevicePage: ordered by id, after an id, filtered by a case-insensitive substring', async () => {
      for (const id of ['b-x', 'a-X', 'c', 'd%_x', 'dx']) await kit.store.insertDevice(device(id));
      const ids = async (q: Parameters<typeof kit.store.listDevicePage>[0]) =>
        (await kit.store.listDevicePage(q)).map((d) => d.deviceId);
      assert.deepEqual(await ids({ limit: 10 }), ['a-X', 'b-x', 'c', 'd%_x', 'dx']);
      assert.deepEqual(await ids({ limit: 2, afterDeviceId: 'a-X' }), ['b-x', 'c']);
      assert.deepEqual(await ids({ limit: 10, idContains: 'x' }), ['a-X', 'b-x', 'd%_x', 'dx']);
      assert.deepEqual(await ids({ limit: 10, idContains: '%_' }), ['d%_x'], 'wildcards match themselves');
      assert.deepEqual(await ids({ limit: 10, afterDeviceId: 'b-x', idContains: 'X' }), ['d%_x', 'dx']);
      assert.deepEqual((await kit.store.listDevicePage({ limit: 1 }))[0], device('a-X'));
    });

    test('peekMessages and queueTotals: states and times at `now`, expired left out, nothing leased', async () => {
      await kit.store.insertDevice(device('p'));
      await kit.store.insertDevice(device('q'));
      await kit.one({ kind: 'enqueue', message: message('p', 'one', { messageId: 'm1', properties: { k: 'v' } }) });
      await kit.one({ kind: 'enqueue', message: message('p', 'two', { expiryTimeUtc: T0 + 1000 }) });
      await kit.one({ kind: 'enqueue', message: message('q', 'three') });
      const [leased] = (await kit.one({ kind: 'lease', deviceId: 'p', max: 1 })).deliveries;
      const peek = await kit.store.peekMessages('p', T0, 10);
      assert.deepEqual(
        peek.map((m) => [m.sequenceNumber, m.state, m.lockedUntil, m.body.toString()]),
        [
          [1, 'Invisible', leased!.lockedUntil, 'one'],
          [2, 'Enqueued', null, 'two'],
        ],
      );
      assert.equal(peek[0]!.messageId, 'm1');
      assert.deepEqual(peek[0]!.properties, { k: 'v' });
      assert.equal((await kit.store.peekMessages('p', T0, 1)).length, 1);
      assert.deepEqual(await kit.store.queueTotals(T0), { enqueued: 2, invisible: 1 });
      // Past the second message's expiry and the lock: shown as the next operation would find them.
      const later = T0 + 3_000_000;
      assert.deepEqual(
        (await kit.store.peekMessages('p', later, 10)).map((m) => [m.sequenceNumber, m.state]),
        [[1, 'Enqueued']],
      );
      assert.deepEqual(await kit.store.queueTotals(later), { enqueued: 2, invisible: 0 });
      // Nothing was leased by the peeks: the lease still finds message 2 at T0.
      const [again] = (await kit.one({ kind: 'lease', deviceId: 'p', max: 1 })).deliveries;
      assert.equal(again?.sequenceNumber, 2);
    });

    test('peekMessages shows what the sender did not set as unset: no ack, a default expiry', async () => {
      await kit.store.insertDevice(device('u'));
      const bare = {
        deviceId: 'u',
        expiryTimeUtc: T0 + 5000,
        defaultExpiry: true,
        properties: {},
        body: Buffer.from('b'),
      };
      await kit.one({ kind: 'enqueue', message: bare });
      const [m] = await kit.store.peekMessages('u', T0, 10);
      assert.equal(m!.ack, undefined);
      assert.equal(m!.defaultExpiry, true);
    });

    test('a commit reports the feedback records it created', async () => {
      await kit.store.insertDevice(device('f'));
      await kit.one({ kind: 'enqueue', message: message('f', 'x', { ack: 'full', messageId: 'fm' }) });
      const [d] = (await kit.one({ kind: 'lease', deviceId: 'f', max: 1 })).deliveries;
      const none = await kit.store.commit([{ kind: 'lease', deviceId: 'f', max: 1 }], T0, POLICY);
      assert.equal(none.feedbackRecords?.length ?? 0, 0);
      const r = await kit.store.commit(
        [{ kind: 'settle', deviceId: 'f', lockToken: d!.lockToken, action: 'complete' }],
        T0,
        POLICY,
      );
      assert.deepEqual(
        r.feedbackRecords?.map((x) => [x.deviceId, x.originalMessageId, x.statusCode]),
        [['f', 'fm', 'Success']],
      );
    });

    test('pendingFeedbackRecords: records waiting for a batch and in feedback messages until they expire or are taken', async () => {
      await kit.store.insertDevice(device('r'));
      assert.equal(await kit.store.pendingFeedbackRecords(T0), 0);
      for (let i = 0; i < 3; i++) {
        await kit.one({ kind: 'enqueue', message: message('r', `m${i}`, { ack: 'full' }) });
        const [m] = (await kit.one({ kind: 'lease', deviceId: 'r', max: 1 })).deliveries;
        await kit.one({ kind: 'settle', deviceId: 'r', lockToken: m!.lockToken, action: 'reject' });
      }
      // The first record made a batch at once; the other two wait for batchDelay.
      assert.equal(await kit.store.pendingFeedbackRecords(T0), 3);
      const batch = await kit.feedbackBatch(T0);
      assert.equal(batch?.records.length, 1);
      assert.equal(await kit.store.pendingFeedbackRecords(T0), 3, 'a leased batch is still pending');
      await kit.one({ kind: 'settleFeedback', lockToken: batch!.lockToken, action: 'complete' });
      assert.equal(await kit.store.pendingFeedbackRecords(T0), 2);
      // Batched after the delay, then past the batch's TTL: gone from the count.
      await kit.one({ kind: 'expire', limit: 100 }, T0 + 16_000);
      assert.equal(await kit.store.pendingFeedbackRecords(T0 + 16_000), 2);
      assert.equal(await kit.store.pendingFeedbackRecords(T0 + 16_000 + POLICY.feedback.ttlMs), 0);
    });
  });
}
