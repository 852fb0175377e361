/**
 * Engine: kept dead letters (docs/dead-letters.md) with a manual clock. The scheduler, not a timer
 * per message, removes them when c2d.deadLetterRetentionMs has passed; the cap drops the oldest;
 * a requeue gets a fresh expiry from c2d.defaultTtlMs.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { FerryError } from '@ferry/common';
import { type Harness, harness, msg } from './engine-harness.js';

const RETENTION = 10 * 60_000;

describe('engine dead letters', () => {
  let h: Harness;
  afterEach(() => h.close());

  async function rejectOne(messageId: string): Promise<void> {
    await h.engine.send('d', { ...msg(messageId), messageId });
    const [m] = await h.engine.receive('d');
    await h.engine.reject('d', m!.lockToken);
  }

  test('the scheduler removes them once the retention has passed; the cap drops the oldest', async () => {
    h = await harness({ c2d: { deadLetterRetentionMs: RETENTION, maxDeadLettersPerDevice: 2 } });
    await h.addDevice('d');
    await rejectOne('a');
    await h.advance(1000);
    await rejectOne('b');
    await rejectOne('c');
    assert.deepEqual(
      (await h.engine.deadLetters('d', 10)).map((m) => [m.messageId, m.reason]),
      [
        ['b', 'Rejected'],
        ['c', 'Rejected'],
      ],
    );
    await h.advance(RETENTION - 1);
    assert.equal((await h.engine.deadLetters('d', 10)).length, 2, 'kept until the retention ends');
    await h.advance(1);
    assert.deepEqual(await h.engine.deadLetters('d', 10), []);
    // Removed from the store by the scheduler, not only hidden: nothing is due any more.
    assert.equal(
      await h.store.nextDeadline({ ...policyOf(), deadLetters: { retentionMs: RETENTION, maxPerDevice: 2 } }),
      null,
    );
  });

  test('requeue: a fresh expiry from the default TTL, delivered again; unknown ones are NotFound', async () => {
    h = await harness({ c2d: { deadLetterRetentionMs: RETENTION, defaultTtlMs: 120_000 } });
    await h.addDevice('d');
    await rejectOne('a');
    const [dead] = await h.engine.deadLetters('d', 10);
    await h.advance(5000);
    const seq = await h.engine.requeueDeadLetter('d', dead!.sequenceNumber);
    const [again] = await h.engine.receive('d');
    assert.equal(again!.sequenceNumber, seq);
    assert.equal(again!.messageId, 'a');
    assert.equal(again!.deliveryCount, 0);
    assert.equal(again!.expiryTimeUtc, h.clock.now() + 120_000);
    await h.engine.complete('d', again!.lockToken);
    await assert.rejects(
      h.engine.requeueDeadLetter('d', dead!.sequenceNumber),
      (err) => err instanceof FerryError && err.code === 404000,
    );
    await assert.rejects(
      h.engine.deleteDeadLetter('d', dead!.sequenceNumber),
      (err) => err instanceof FerryError && err.code === 404000,
    );
  });

  test('retention 0 keeps nothing, as IoT Hub drops them', async () => {
    h = await harness({ c2d: { deadLetterRetentionMs: 0 } });
    await h.addDevice('d');
    await rejectOne('a');
    assert.deepEqual(await h.engine.deadLetters('d', 10), []);
  });
});

function policyOf() {
  return {
    maxQueueDepth: 50,
    maxDeliveryCount: 10,
    countLockExpiry: false,
    lockTimeoutMs: 60_000,
    history: { retentionMs: 0 },
    feedback: {
      batchMaxRecords: 64,
      batchDelayMs: 15_000,
      lockDurationMs: 60_000,
      ttlMs: 3_600_000,
      maxDeliveryCount: 10,
    },
  };
}
