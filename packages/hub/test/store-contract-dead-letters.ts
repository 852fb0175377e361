/**
 * Kept dead letters (docs/dead-letters.md) in the store contract, run on SQLite and PostgreSQL:
 * what is kept and why, requeue at the tail (as an enqueue), delete, the cap, the retention (read
 * and the scheduler's expire), and retention 0 (IoT Hub's drop).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { QueuePolicy } from '../src/store/types.js';
import { type ContractKit, device, message, POLICY, T0 } from './store-contract-kit.js';

const HOUR = 3_600_000;
const KEEP: QueuePolicy = { ...POLICY, deadLetters: { retentionMs: 24 * HOUR, maxPerDevice: 3 } };

export function deadLetterContract(kit: ContractKit): void {
  describe('kept dead letters', () => {
    const enqueue = (text: string, extra = {}, now = T0) =>
      kit.one({ kind: 'enqueue', message: message('d', text, { messageId: text, ...extra }) }, now, KEEP);
    const lease = async (now = T0) =>
      (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 }, now, KEEP)).deliveries[0]!;
    const settle = (lockToken: string, action: 'abandon' | 'reject', now = T0) =>
      kit.one({ kind: 'settle', deviceId: 'd', lockToken, action }, now, KEEP);
    const list = (now = T0) => kit.store.listDeadLetters('d', now, KEEP.deadLetters.retentionMs, 100);

    test('rejected, expired, over-abandoned and purged messages are kept with their reason and time', async () => {
      await kit.store.insertDevice(device('d'));
      await enqueue('rejected', { properties: { k: 'v' }, correlationId: 'c1' });
      await enqueue('expired', { expiryTimeUtc: T0 + 1000 });
      await enqueue('abandoned');
      await settle((await lease()).lockToken, 'reject', T0 + 10);
      // The expiry is applied by the next op on the device (as the scheduler would).
      for (let i = 0; i < KEEP.maxDeliveryCount; i++)
        await settle((await lease(T0 + 2000)).lockToken, 'abandon', T0 + 2000);
      await enqueue('purged', {}, T0 + 3000);
      assert.deepEqual(await kit.one({ kind: 'purge', deviceId: 'd' }, T0 + 4000, KEEP), { ok: true, purged: 1 });
      const kept = await list(T0 + 5000);
      assert.deepEqual(
        kept.map((m) => [m.messageId, m.reason, m.deadLetteredTimeUtc, m.sequenceNumber, m.body.toString()]),
        [
          ['rejected', 'Rejected', T0 + 10, 1, 'rejected'],
          ['expired', 'Expired', T0 + 2000, 2, 'expired'],
          ['abandoned', 'DeliveryCountExceeded', T0 + 2000, 3, 'abandoned'],
          ['purged', 'Purged', T0 + 4000, 4, 'purged'],
        ].slice(-3),
        'the cap (3) drops the oldest first',
      );
      assert.equal(kept[1]!.deliveryCount, KEEP.maxDeliveryCount, 'the count as it went');
      assert.equal(await kit.store.queueDepth('d', T0 + 5000), 0, 'dead letters are not in the queue');
    });

    test('requeue: at the tail with a new sequence number, count 0, the given expiry; then gone from the list', async () => {
      await kit.store.insertDevice(device('d'));
      await enqueue('first', { properties: { k: 'v' }, ack: 'full' });
      await settle((await lease()).lockToken, 'reject');
      await enqueue('second');
      const back = await kit.one(
        { kind: 'requeueDeadLetter', deviceId: 'd', sequenceNumber: 1, expiryTimeUtc: T0 + 2 * HOUR },
        T0 + 100,
        KEEP,
      );
      assert.deepEqual(back, { ok: true, sequenceNumber: 3 });
      assert.deepEqual(await list(T0 + 100), []);
      const peek = await kit.store.peekMessages('d', T0 + 100, 10);
      assert.deepEqual(
        peek.map((m) => [m.sequenceNumber, m.messageId, m.deliveryCount, m.expiryTimeUtc]),
        [
          [2, 'second', 0, T0 + HOUR],
          [3, 'first', 0, T0 + 2 * HOUR],
        ],
      );
      assert.deepEqual(peek[1]!.properties, { k: 'v' });
      assert.equal(peek[1]!.ack, 'full');
      assert.equal(peek[1]!.body.toString(), 'first');
      // Not there any more: a second requeue finds nothing.
      assert.deepEqual(
        await kit.one(
          { kind: 'requeueDeadLetter', deviceId: 'd', sequenceNumber: 1, expiryTimeUtc: T0 + HOUR },
          T0,
          KEEP,
        ),
        { ok: false, error: 'DeadLetterNotFound' },
      );
    });

    test('requeue into a full queue is refused and the dead letter is kept; delete removes one', async () => {
      await kit.store.insertDevice(device('d'));
      await enqueue('x');
      await settle((await lease()).lockToken, 'reject');
      for (let i = 0; i < KEEP.maxQueueDepth; i++) await enqueue(`fill${i}`);
      const op = { kind: 'requeueDeadLetter', deviceId: 'd', sequenceNumber: 1, expiryTimeUtc: T0 + HOUR } as const;
      assert.deepEqual(await kit.one(op, T0, KEEP), { ok: false, error: 'DeviceMaximumQueueDepthExceeded' });
      assert.deepEqual(
        (await list()).map((m) => m.messageId),
        ['x'],
      );
      assert.deepEqual(await kit.one({ kind: 'deleteDeadLetter', deviceId: 'd', sequenceNumber: 1 }, T0, KEEP), {
        ok: true,
      });
      assert.deepEqual(await kit.one({ kind: 'deleteDeadLetter', deviceId: 'd', sequenceNumber: 1 }, T0, KEEP), {
        ok: false,
        error: 'DeadLetterNotFound',
      });
      assert.deepEqual(await list(), []);
    });

    test('retention: left out of the list once past it, removed by expire, and its end is a deadline', async () => {
      await kit.store.insertDevice(device('d'));
      await enqueue('old');
      const rejected = await kit.store.commit(
        [{ kind: 'settle', deviceId: 'd', lockToken: (await lease()).lockToken, action: 'reject' }],
        T0,
        KEEP,
      );
      const end = T0 + KEEP.deadLetters.retentionMs;
      assert.ok(rejected.earliestDeadline !== null && rejected.earliestDeadline <= end, 'the retention end reported');
      assert.equal(await kit.store.nextDeadline(KEEP), end);
      assert.equal((await list(end - 1)).length, 1);
      assert.deepEqual(await list(end), []);
      const { results } = await kit.store.commit([{ kind: 'expire', limit: 10 }], end, KEEP);
      assert.equal((results[0] as { ok: boolean }).ok, true);
      assert.equal(await kit.store.nextDeadline(KEEP), null, 'nothing kept any more');
      assert.equal((await kit.store.listDeadLetters('d', T0, KEEP.deadLetters.retentionMs, 10)).length, 0);
    });

    test('retention 0 keeps nothing (IoT Hub drops them); deleting the device deletes its dead letters', async () => {
      await kit.store.insertDevice(device('d'));
      await kit.one({ kind: 'enqueue', message: message('d', 'dropped') }, T0, POLICY);
      const d1 = (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 }, T0, POLICY)).deliveries[0]!;
      await kit.one({ kind: 'settle', deviceId: 'd', lockToken: d1.lockToken, action: 'reject' }, T0, POLICY);
      assert.deepEqual(await list(), []);
      await enqueue('kept');
      await settle((await lease()).lockToken, 'reject');
      assert.equal((await list()).length, 1);
      assert.equal(await kit.store.deleteDevice('d'), true);
      await kit.store.insertDevice(device('d'));
      assert.deepEqual(await list(), []);
    });
  });
}
