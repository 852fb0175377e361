/**
 * The system clock's timers: delays from about a second on are rounded up to a few per power of
 * two, so clients choosing arbitrary keep-alives and idle timeouts cannot make Node keep a timer
 * list per value (clock.ts, issue 29).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock, timerDelay } from '../src/clock.js';

test('short delays are kept as asked; longer ones rounded up by at most 1/64, never down', () => {
  for (const ms of [0, 1, 5.5, 250, 1023]) assert.equal(timerDelay(ms), ms);
  assert.equal(timerDelay(-5), 0);
  assert.equal(timerDelay(Number.NaN), 0);
  for (let ms = 1024; ms < 2 ** 31 - 1; ms = ms * 1.37 + 1) {
    const d = timerDelay(ms);
    assert.ok(d >= ms, `${ms} -> ${d}: early`);
    assert.ok(d <= ms * (1 + 1 / 64), `${ms} -> ${d}: more than 1/64 late`);
  }
});

test("never past Node's longest delay, which a longer one turns into 1 ms", () => {
  const max = 2 ** 31 - 1;
  assert.equal(timerDelay(max), max, 'the longest, as keep-alives cap at, rounded past it');
  assert.equal(timerDelay(max - 1000), max);
  assert.equal(timerDelay(2 ** 40), max);
  assert.equal(timerDelay(Number.POSITIVE_INFINITY), max);
});

test('every delay from 1 s to 49 days (an AMQP idle timeout) comes down to 64 per power of two', () => {
  const seen = new Set<number>();
  for (let ms = 1024; ms <= 2 ** 32; ms += 1 + Math.floor(ms / 4096)) seen.add(timerDelay(ms));
  assert.ok(seen.size <= 23 * 64, `${seen.size} distinct delays`);
  // Keep-alives of 1.5 x every MQTT keepalive (0-65,535 s).
  const keepAlives = new Set<number>();
  for (let s = 1; s <= 65_535; s++) keepAlives.add(timerDelay(s * 1500));
  assert.ok(keepAlives.size < 1100, `${keepAlives.size} distinct keep-alive delays`);
});

test('a system timer fires after its delay, and a cancelled one never', async (t) => {
  // The clock's timers are unref()'d: this one keeps the test's process alive meanwhile.
  const alive = setTimeout(() => undefined, 5000);
  t.after(() => clearTimeout(alive));
  const started = performance.now();
  let cancelledFired = false;
  systemClock.setTimer(() => (cancelledFired = true), 20).cancel();
  await new Promise<void>((resolve) => systemClock.setTimer(resolve, 30));
  assert.ok(performance.now() - started >= 29);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(cancelledFired, false);
});
