/**
 * Engine: each message's history (docs/message-history.md) with a manual clock, on SQLite and (through
 * engine-postgres.test.ts) PostgreSQL. The steps carry the engine's times; a waiting receiver's
 * direct delivery is recorded as any lease; the scheduler removes a copy's steps once its end is
 * c2d.historyRetentionMs behind (by default feedback.ttlMs); 0 records nothing.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Delivery } from '@ferry/common';
import { within } from './deadline.js';
import { FEEDBACK_DEFAULTS, type Harness, harness, msg } from './engine-harness.js';

describe('engine message history', () => {
  let h: Harness;
  afterEach(() => h.close());

  test('sent with ack full, abandoned twice then completed: every step in order with its time and feedback', async () => {
    h = await harness({ c2d: { historyRetentionMs: undefined } });
    await h.addDevice('d');
    const t0 = h.clock.now();
    await h.engine.send('d', { ...msg('x'), messageId: 'm1', ack: 'full' }, { policy: 'service' });
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      await h.advance(1000);
      const [d] = await h.engine.receive('d', 1, 'amqp');
      tokens.push(d!.lockToken);
      await h.advance(1000);
      if (i < 2) await h.engine.abandon('d', d!.lockToken);
      else await h.engine.complete('d', d!.lockToken);
    }
    const steps = await h.engine.messageHistory('d', 'm1');
    assert.deepEqual(
      steps.map((s) => [s.kind, s.at - t0, s.deliveryCount, s.lockToken, s.protocol]),
      [
        ['enqueued', 0, 0, undefined, undefined],
        ['delivered', 1000, 0, tokens[0], 'amqp'],
        ['abandoned', 2000, 1, undefined, undefined],
        ['delivered', 3000, 1, tokens[1], 'amqp'],
        ['abandoned', 4000, 2, undefined, undefined],
        ['delivered', 5000, 2, tokens[2], 'amqp'],
        ['completed', 6000, 2, undefined, undefined],
      ],
    );
    assert.deepEqual([steps[0]!.policy, steps[0]!.jobId], ['service', undefined]);
    assert.equal(steps[6]!.feedback?.statusCode, 'Success');
    assert.equal(steps[6]!.feedback?.originalMessageId, 'm1');
    // The record is the one the feedback queue hands out.
    await h.advance(FEEDBACK_DEFAULTS.batchDelayMs);
    const batch = await h.engine.receiveFeedback();
    assert.deepEqual(batch?.records, [steps[6]!.feedback]);
    await h.engine.completeFeedback(batch!.lockToken);

    // Kept feedback.ttlMs after the end, then removed by the scheduler (nothing left due).
    await h.advance(6000 + FEEDBACK_DEFAULTS.ttlMs - (h.clock.now() - t0) - 1);
    assert.equal((await h.engine.messageHistory('d', 'm1')).length, 7);
    await h.advance(1);
    assert.deepEqual(await h.engine.messageHistory('d', 'm1'), []);
    assert.deepEqual(await h.store.messageHistory('d', 'm1', t0, FEEDBACK_DEFAULTS.ttlMs * 10), []);
  });

  test("a waiting receiver's direct delivery is recorded with its protocol; 0 records nothing", async () => {
    h = await harness({ c2d: { historyRetentionMs: 60_000 } });
    await h.addDevice('d');
    const delivered = new Promise<Delivery[]>((resolve, reject) => {
      const receiver = h.engine.openReceiver('d', { onDeliveries: resolve, onError: reject }, 'mqtt');
      receiver.want(1);
    });
    await h.engine.send('d', { ...msg('x'), messageId: 'direct' });
    const [d] = await within(delivered, 'the direct delivery');
    assert.deepEqual(
      (await h.engine.messageHistory('d', 'direct')).map((s) => [s.kind, s.lockToken, s.protocol]),
      [
        ['enqueued', undefined, undefined],
        ['delivered', d!.lockToken, 'mqtt'],
      ],
    );
    await h.close();
    h = await harness({ c2d: { historyRetentionMs: 0 } });
    await h.addDevice('d');
    await h.engine.send('d', { ...msg('x'), messageId: 'off' });
    assert.deepEqual(await h.engine.messageHistory('d', 'off'), []);
  });
});
