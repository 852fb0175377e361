/** The retry policy's delays, and withRetry driven by a fake clock (no real waiting). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExponentialBackoffWithJitter, noRetry, withRetry } from '../src/client/index.js';
import { FerryError } from '../src/index.js';

const busy = new FerryError('ServiceUnavailable');
const notFound = new FerryError('DeviceNotFound');

describe('ExponentialBackoffWithJitter', () => {
  test('doubles from min to max; with no randomness the delays are the nominal ones', () => {
    const p = new ExponentialBackoffWithJitter({ minDelayMs: 100, maxDelayMs: 1000, maxAttempts: 6, random: () => 0 });
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7].map((n) => p.nextDelayMs(n, busy)),
      [100, 200, 400, 800, 1000, 1000, undefined],
    );
  });

  test('jitter takes up to its fraction off each delay', () => {
    const most = new ExponentialBackoffWithJitter({ jitter: 0.5, random: () => 0.999999 });
    const least = new ExponentialBackoffWithJitter({ jitter: 0.5, random: () => 0 });
    assert.equal(least.nextDelayMs(3, busy), 400);
    assert.equal(most.nextDelayMs(3, busy), 200);
  });

  test('permanent errors are not retried; plain Errors neither', () => {
    const p = new ExponentialBackoffWithJitter({ random: () => 0 });
    assert.equal(p.nextDelayMs(1, notFound), undefined);
    assert.equal(p.nextDelayMs(1, new Error('x')), undefined);
    assert.equal(p.nextDelayMs(1, new FerryError('ThrottlingException')), 100);
    assert.equal(p.nextDelayMs(1, new FerryError('ServerBusy')), 100);
  });

  test('options are checked by name and range', () => {
    assert.throws(() => new ExponentialBackoffWithJitter({ maxDelay: 5 } as never), /Unknown retry option "maxDelay"/);
    assert.throws(
      () => new ExponentialBackoffWithJitter({ minDelayMs: 10, maxDelayMs: 5 }),
      /minDelayMs <= maxDelayMs/,
    );
    assert.throws(() => new ExponentialBackoffWithJitter({ jitter: 2 }), /jitter/);
  });
});

describe('withRetry on a fake clock', () => {
  test('waits the policy delays between attempts, then succeeds', async () => {
    const slept: number[] = [];
    const sleep = async (ms: number) => {
      slept.push(ms);
    };
    let calls = 0;
    const policy = new ExponentialBackoffWithJitter({ minDelayMs: 50, maxDelayMs: 150, random: () => 0 });
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 5) throw busy;
        return 'done';
      },
      policy,
      sleep,
    );
    assert.equal(result, 'done');
    assert.deepEqual(slept, [50, 100, 150, 150]);
  });

  test('gives up after maxAttempts with the last error', async () => {
    const slept: number[] = [];
    const policy = new ExponentialBackoffWithJitter({ maxAttempts: 2, random: () => 0 });
    await assert.rejects(
      withRetry(
        async () => {
          throw busy;
        },
        policy,
        async (ms) => {
          slept.push(ms);
        },
      ),
      (e) => e === busy,
    );
    assert.deepEqual(slept, [100, 200]);
  });

  test('a permanent error and noRetry raise at once', async () => {
    for (const [err, policy] of [
      [notFound, new ExponentialBackoffWithJitter()],
      [busy, noRetry],
    ] as const) {
      let slept = 0;
      await assert.rejects(
        withRetry(
          async () => {
            throw err;
          },
          policy,
          async () => {
            slept++;
          },
        ),
        (e) => e === err,
      );
      assert.equal(slept, 0);
    }
  });

  test('a pluggable policy decides alone', async () => {
    const slept: number[] = [];
    const everyOther = { nextDelayMs: (n: number) => (n <= 3 ? n * 7 : undefined) };
    await assert.rejects(
      withRetry(
        async () => {
          throw notFound;
        },
        everyOther,
        async (ms) => {
          slept.push(ms);
        },
      ),
    );
    assert.deepEqual(slept, [7, 14, 21]);
  });
});
