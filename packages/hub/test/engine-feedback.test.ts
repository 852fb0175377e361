/** Engine: the hub-wide feedback queue: batching, competing receivers, lock, TTL, max delivery count. */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { FerryError } from '@ferry/common';
import type { FeedbackConfig } from '../src/config/types.js';
import { type Harness, harness, msg } from './engine-harness.js';

const lockLost = (err: unknown) => err instanceof FerryError && err.errorName === 'DeviceMessageLockLost';

describe('engine feedback', () => {
  let h: Harness;
  afterEach(() => h.close());

  async function setup(feedback: Partial<FeedbackConfig> = {}) {
    h = await harness({ c2d: { maxQueueDepth: 200 }, feedback });
    await h.addDevice('d');
    await h.addDevice('e');
  }

  /** n outcomes with ack full (completions) on device `deviceId`. */
  async function complete(n: number, deviceId = 'd'): Promise<void> {
    await Promise.all(
      Array.from({ length: n }, (_, i) => h.engine.send(deviceId, { ...msg('x'), messageId: `m${i}`, ack: 'full' })),
    );
    const got = await h.engine.receive(deviceId, n);
    await Promise.all(got.map((m) => h.engine.complete(deviceId, m.lockToken)));
    await h.engine.idle();
  }

  test('64 records make a batch at once; the rest waits 15 s after the last batch', async () => {
    await setup();
    await complete(1); // the first record after start: no batch yet, so it goes at once
    const first = await h.engine.receiveFeedback();
    assert.equal(first?.records.length, 1);
    await h.engine.completeFeedback(first!.lockToken);
    await complete(70);
    const full = await h.engine.receiveFeedback();
    assert.equal(full?.records.length, 64);
    assert.equal(await h.engine.receiveFeedback(), null);
    await h.advance(14_999);
    assert.equal(await h.engine.receiveFeedback(), null);
    await h.advance(1);
    const rest = await h.engine.receiveFeedback();
    assert.equal(rest?.records.length, 6);
    assert.equal(rest?.enqueuedTimeUtc, h.clock.now());
  });

  test('records from several devices share a batch', async () => {
    await setup({ batchMaxRecords: 4 });
    await complete(1, 'e'); // the first batch goes at once
    await h.engine.completeFeedback((await h.engine.receiveFeedback())!.lockToken);
    await complete(2, 'd');
    await complete(1, 'e');
    assert.equal(await h.engine.receiveFeedback(), null);
    await h.advance(15_000);
    const b = await h.engine.receiveFeedback();
    assert.deepEqual(b?.records.map((r) => r.deviceId).sort(), ['d', 'd', 'e']);
  });

  test('batchDelay 0 batches at once', async () => {
    await setup({ batchDelayMs: 0 });
    await complete(1);
    await complete(1);
    assert.equal((await h.engine.receiveFeedback())?.records.length, 1);
    assert.equal((await h.engine.receiveFeedback())?.records.length, 1);
    assert.equal(await h.engine.receiveFeedback(), null);
  });

  test('a configured batch size and delay are honoured', async () => {
    await setup({ batchMaxRecords: 3, batchDelayMs: 5_000 });
    await complete(1);
    assert.equal((await h.engine.receiveFeedback())?.records.length, 1);
    await complete(4);
    assert.equal((await h.engine.receiveFeedback())?.records.length, 3);
    assert.equal(await h.engine.receiveFeedback(), null);
    await h.advance(5_000);
    assert.equal((await h.engine.receiveFeedback())?.records.length, 1);
  });

  test('competing receivers get different batches', async () => {
    await setup({ batchDelayMs: 0, batchMaxRecords: 1 });
    await complete(3);
    const got = await Promise.all([h.engine.receiveFeedback(), h.engine.receiveFeedback(), h.engine.receiveFeedback()]);
    const ids = got.map((b) => b?.records[0]?.originalMessageId);
    assert.equal(new Set(ids).size, 3);
    assert.equal(new Set(got.map((b) => b?.lockToken)).size, 3);
    assert.equal(await h.engine.receiveFeedback(), null);
  });

  test('feedback lock expiry makes the batch available again; the old lock is lost', async () => {
    await setup({ batchDelayMs: 0, lockDurationMs: 30_000 });
    await complete(1);
    const b = await h.engine.receiveFeedback();
    assert.equal(b?.lockedUntil, h.clock.now() + 30_000);
    assert.equal(await h.engine.receiveFeedback(), null);
    await h.advance(30_000);
    await assert.rejects(h.engine.completeFeedback(b!.lockToken), lockLost);
    const again = await h.engine.receiveFeedback();
    assert.deepEqual(again?.records, b?.records);
    assert.equal(again?.deliveryCount, 1);
    await h.engine.completeFeedback(again!.lockToken);
    assert.equal(await h.engine.receiveFeedback(), null);
  });

  test('feedback abandon returns it with deliveryCount + 1; reaching maxDeliveryCount drops it', async () => {
    await setup({ batchDelayMs: 0, maxDeliveryCount: 3 });
    await complete(1);
    for (let i = 0; i < 3; i++) {
      const b = await h.engine.receiveFeedback();
      assert.equal(b?.deliveryCount, i);
      await h.engine.abandonFeedback(b!.lockToken);
    }
    assert.equal(await h.engine.receiveFeedback(), null);
  });

  test('feedback TTL drops a batch, locked or not', async () => {
    await setup({ batchDelayMs: 0, ttlMs: 120_000, lockDurationMs: 300_000 });
    await complete(1);
    const b = await h.engine.receiveFeedback();
    await h.advance(120_000);
    await assert.rejects(h.engine.completeFeedback(b!.lockToken), lockLost);
    assert.equal(await h.engine.receiveFeedback(), null);
  });

  test('reject drops a feedback batch; settling an unknown token is lock lost', async () => {
    await setup({ batchDelayMs: 0 });
    await complete(1);
    const b = await h.engine.receiveFeedback();
    await h.engine.rejectFeedback(b!.lockToken);
    await h.advance(120_000);
    assert.equal(await h.engine.receiveFeedback(), null);
    await assert.rejects(h.engine.abandonFeedback('nope'), lockLost);
  });

  test('un-batched feedback of a deleted device is dropped', async () => {
    await setup();
    await complete(1, 'e'); // first batch goes at once
    await complete(2, 'd'); // waits for the delay
    await h.store.deleteDevice('d');
    await h.advance(15_000);
    const b = await h.engine.receiveFeedback();
    assert.deepEqual(
      b?.records.map((r) => r.deviceId),
      ['e'],
    );
    await h.engine.completeFeedback(b!.lockToken);
    assert.equal(await h.engine.receiveFeedback(), null);
  });
});
