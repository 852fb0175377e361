/** Engine: one scheduler for every deadline, working in batches, re-armed from the store. */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { type Clock, ManualClock, type TimerHandle } from '../src/clock.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { QueuePolicy } from '../src/store/types.js';
import { type Harness, harness, msg } from './engine-harness.js';

/** A ManualClock that counts the timers currently armed on it. */
class CountingClock extends ManualClock implements Clock {
  armed = 0;
  maxArmed = 0;

  override setTimer(fn: () => void, ms: number): TimerHandle {
    this.armed++;
    this.maxArmed = Math.max(this.maxArmed, this.armed);
    let live = true;
    const done = () => {
      if (live) this.armed--;
      live = false;
    };
    const h = super.setTimer(() => {
      done();
      fn();
    }, ms);
    return {
      cancel: () => {
        done();
        h.cancel();
      },
    };
  }
}

describe('scheduler', () => {
  let h: Harness;
  afterEach(() => h.close());

  test('one timer for many deadlines, and every deadline handled in order', async () => {
    const clock = new CountingClock();
    h = await harness({ clock, c2d: { maxQueueDepth: 100 }, feedback: { batchDelayMs: 0, batchMaxRecords: 100 } });
    await h.addDevice('d');
    for (let i = 1; i <= 30; i++) {
      await h.engine.send('d', {
        ...msg(`m${i}`),
        messageId: `m${i}`,
        ack: 'negative',
        expiryTimeUtc: clock.now() + i * 60_000,
      });
    }
    await h.engine.receive('d', 10); // ten locks as well
    await h.engine.idle();
    assert.equal(clock.maxArmed, 1);
    assert.equal(clock.armed, 1);
    await h.advance(10 * 60_000);
    assert.equal(await h.engine.queueDepth('d'), 20);
    const b = await h.engine.receiveFeedback();
    assert.deepEqual(
      b?.records.map((r) => r.originalMessageId),
      Array.from({ length: 10 }, (_, i) => `m${i + 1}`),
    );
    assert.equal(clock.maxArmed, 1);
  });

  test('more due items than one batch are all handled', async () => {
    h = await harness({ c2d: { maxQueueDepth: 1000 } });
    const ids = ['a', 'b', 'c'];
    for (const id of ids) await h.addDevice(id);
    const expiry = h.clock.now() + 60_000;
    await Promise.all(
      ids.flatMap((deviceId) =>
        Array.from({ length: 400 }, () => h.engine.send(deviceId, { ...msg('x'), expiryTimeUtc: expiry })),
      ),
    );
    await h.advance(60_000);
    for (const id of ids) assert.equal(await h.engine.queueDepth(id), 0);
    assert.equal(await h.store.nextDeadline(POLICY_ANY), null);
  });

  test('a store that fails to answer is retried', async () => {
    class Flaky extends SqliteStore {
      failures = 0;
      override async nextDeadline(policy: QueuePolicy): Promise<number | null> {
        if (this.failures-- > 0) throw new Error('store unavailable');
        return super.nextDeadline(policy);
      }
    }
    const store = new Flaky({ path: ':memory:' });
    h = await harness({ store });
    await h.addDevice('d');
    store.failures = 1; // the re-arm after this send fails
    await h.engine.send('d', { ...msg('x'), expiryTimeUtc: h.clock.now() + 500 });
    await h.advance(1000); // the retry timer (1 s) fires, then the expiry is handled
    assert.equal(await h.engine.queueDepth('d'), 0);
    assert.equal(await store.nextDeadline(POLICY_ANY), null);
  });

  test('stop cancels the timer', async () => {
    const clock = new CountingClock();
    h = await harness({ clock });
    await h.addDevice('d');
    await h.engine.send('d', msg('x'));
    await h.engine.idle();
    assert.equal(clock.armed, 1);
    await h.engine.stop();
    assert.equal(clock.armed, 0);
  });
});

const POLICY_ANY: QueuePolicy = {
  maxQueueDepth: 50,
  maxDeliveryCount: 10,
  countLockExpiry: false,
  lockTimeoutMs: 60_000,
  deadLetters: { retentionMs: 0, maxPerDevice: 100 },
  history: { retentionMs: 0 },
  feedback: {
    batchMaxRecords: 64,
    batchDelayMs: 15_000,
    lockDurationMs: 60_000,
    ttlMs: 3_600_000,
    maxDeliveryCount: 10,
  },
};
