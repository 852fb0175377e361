/** The feedback-queue part of the store contract (see store-contract.ts). */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { QueueOpResults } from '../src/store/types.js';
import { type ContractKit, device, message, POLICY, T0 } from './store-contract-kit.js';

export function feedbackQueueContract(kit: ContractKit): void {
  describe('feedback queue', () => {
    beforeEach(async () => {
      await kit.store.insertDevice(device('d'));
    });

    /** Completes n messages with ack positive at `now`. */
    async function outcomes(n: number, now: number, policy = POLICY): Promise<void> {
      for (let i = 0; i < n; i++) {
        await kit.one(
          { kind: 'enqueue', message: message('d', `m${i}`, { ack: 'positive', messageId: `id${i}` }) },
          now,
          policy,
        );
        const [m] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 }, now, policy)).deliveries;
        await kit.one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }, now, policy);
      }
    }

    test('first record batches at once; later ones wait batchDelay; full batches at once', async () => {
      await outcomes(1, T0);
      const b1 = await kit.feedbackBatch(T0);
      assert.equal(b1?.records.length, 1);
      assert.equal(b1?.enqueuedTimeUtc, T0);
      await outcomes(2, T0 + 1000);
      assert.equal(await kit.feedbackBatch(T0 + 1000), null);
      assert.equal(await kit.store.nextDeadline(POLICY), Math.min(T0 + 15_000, b1!.lockedUntil));
      await outcomes(2, T0 + 2000); // 4 pending = batchMaxRecords: one full batch at once
      const b2 = await kit.feedbackBatch(T0 + 2000);
      assert.deepEqual(
        b2?.records.map((r) => r.originalMessageId),
        ['id0', 'id1', 'id0', 'id1'],
      );
      await outcomes(1, T0 + 3000);
      assert.equal(await kit.feedbackBatch(T0 + 3000), null);
      await kit.one({ kind: 'expire', limit: 100 }, T0 + 17_000);
      const b3 = await kit.feedbackBatch(T0 + 17_000);
      assert.equal(b3?.records.length, 1);
    });

    test('batchDelay 0 batches at once', async () => {
      const now0 = { ...POLICY, feedback: { ...POLICY.feedback, batchDelayMs: 0 } };
      await outcomes(1, T0, now0);
      await outcomes(1, T0 + 1, now0);
      assert.equal((await kit.one({ kind: 'leaseFeedback' }, T0 + 1, now0)).batch?.records.length, 1);
      assert.equal((await kit.one({ kind: 'leaseFeedback' }, T0 + 1, now0)).batch?.records.length, 1);
    });

    test('competing receivers get different batches; complete removes one', async () => {
      const now0 = { ...POLICY, feedback: { ...POLICY.feedback, batchDelayMs: 0 } };
      await outcomes(2, T0, now0);
      const { results } = await kit.store.commit(
        [{ kind: 'leaseFeedback' }, { kind: 'leaseFeedback' }, { kind: 'leaseFeedback' }],
        T0,
        now0,
      );
      const [a, b, c] = results as Array<QueueOpResults['leaseFeedback']>;
      assert.ok(a!.batch && b!.batch);
      assert.notEqual(a!.batch.lockToken, b!.batch.lockToken);
      assert.equal(c!.batch, null);
      assert.deepEqual(await kit.one({ kind: 'settleFeedback', lockToken: a!.batch.lockToken, action: 'complete' }), {
        ok: true,
      });
      assert.deepEqual(await kit.one({ kind: 'settleFeedback', lockToken: a!.batch.lockToken, action: 'complete' }), {
        ok: false,
        error: 'DeviceMessageLockLost',
      });
    });

    test('feedback abandon and lock expiry count; the max drops the batch', async () => {
      await outcomes(1, T0);
      let now = T0;
      const b = await kit.feedbackBatch(now);
      assert.equal(b?.deliveryCount, 0);
      await kit.one({ kind: 'settleFeedback', lockToken: b!.lockToken, action: 'abandon' }, now);
      const b2 = await kit.feedbackBatch(now);
      assert.equal(b2?.deliveryCount, 1);
      now = b2!.lockedUntil;
      assert.deepEqual(await kit.one({ kind: 'settleFeedback', lockToken: b2!.lockToken, action: 'complete' }, now), {
        ok: false,
        error: 'DeviceMessageLockLost',
      });
      // Lock expiry was the second delivery; the third ends it (maxDeliveryCount 3).
      const b3 = await kit.feedbackBatch(now);
      assert.equal(b3?.deliveryCount, 2);
      await kit.one({ kind: 'settleFeedback', lockToken: b3!.lockToken, action: 'abandon' }, now);
      assert.equal(await kit.feedbackBatch(now), null);
    });

    test('feedback TTL drops a batch even when locked', async () => {
      await outcomes(1, T0);
      const b = await kit.feedbackBatch(T0);
      const expiry = T0 + POLICY.feedback.ttlMs;
      await kit.one({ kind: 'settleFeedback', lockToken: b!.lockToken, action: 'abandon' }, T0);
      assert.equal(await kit.store.nextDeadline(POLICY), expiry);
      await kit.one({ kind: 'expire', limit: 100 }, expiry);
      assert.equal(await kit.feedbackBatch(expiry), null);
      assert.equal(await kit.store.nextDeadline(POLICY), null);
    });

    test('reject drops a feedback batch', async () => {
      await outcomes(1, T0);
      const b = await kit.feedbackBatch(T0);
      assert.deepEqual(await kit.one({ kind: 'settleFeedback', lockToken: b!.lockToken, action: 'reject' }), {
        ok: true,
      });
      assert.equal(await kit.feedbackBatch(T0 + 120_000), null);
    });
  });
}
