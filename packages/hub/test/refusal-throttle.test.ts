/**
 * Refusal lines hub-wide (issue 23): a device reconnecting in a loop with a refused credential
 * wrote a line per attempt. The throttle logs the first refusals of a (device, cause), counts the
 * rest, and writes one summary per (device, cause) at the end of each window. Manual clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { FIRST_LOGGED, RefusalThrottle, WINDOW_MS } from '../src/gateways/refusal-throttle.js';

function setup() {
  const clock = new ManualClock();
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const throttle = new RefusalThrottle({ info: (fields, msg) => lines.push({ fields: { ...fields }, msg }) }, clock);
  return { clock, lines, throttle };
}

describe('RefusalThrottle', () => {
  test('the first refusals of a device and cause are logged, the rest summarised once a window', () => {
    const { clock, lines, throttle } = setup();
    const admitted = Array.from({ length: 50 }, () => throttle.admit('d1', 'IotHubUnauthorizedAccess'));
    assert.equal(admitted.filter(Boolean).length, FIRST_LOGGED);
    assert.deepEqual(admitted.slice(0, FIRST_LOGGED), Array(FIRST_LOGGED).fill(true));
    // Another cause, and another device, have budgets of their own.
    assert.equal(throttle.admit('d1', 'DeviceNotFound'), true);
    assert.equal(throttle.admit('d2', 'IotHubUnauthorizedAccess'), true);
    assert.equal(lines.length, 0, 'no summary before the window ends');
    clock.advance(WINDOW_MS);
    assert.deepEqual(lines, [
      {
        fields: {
          deviceId: 'd1',
          cause: 'IotHubUnauthorizedAccess',
          refused: 50,
          unlogged: 50 - FIRST_LOGGED,
          windowS: 60,
        },
        msg: 'device d1 refused 50 times for IotHubUnauthorizedAccess in the last 60 s',
      },
    ]);
  });

  test('a storm that goes on is only summarised; a quiet window forgets the device', () => {
    const { clock, lines, throttle } = setup();
    for (let i = 0; i < 10; i++) throttle.admit('d1', 'x');
    clock.advance(WINDOW_MS);
    assert.equal(lines.length, 1);
    // The next window: nothing logged one by one, one summary with this window's count.
    const next = Array.from({ length: 7 }, () => throttle.admit('d1', 'x'));
    assert.deepEqual(next, Array(7).fill(false));
    clock.advance(WINDOW_MS);
    assert.equal(lines.length, 2);
    assert.equal(lines[1]!.fields.refused, 7);
    assert.equal(lines[1]!.fields.unlogged, 7);
    // A window without refusals: forgotten, and no summary for it.
    clock.advance(WINDOW_MS);
    assert.equal(lines.length, 2);
    assert.equal(throttle.admit('d1', 'x'), true);
  });

  test('stop() writes what the window has counted so far', () => {
    const { lines, throttle } = setup();
    for (let i = 0; i < FIRST_LOGGED + 4; i++) throttle.admit('d1', 'x');
    throttle.stop();
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.fields.unlogged, 4);
  });

  test('made-up device ids: individual lines and summary lines per window stay bounded', () => {
    const { clock, lines, throttle } = setup();
    let logged = 0;
    for (let i = 0; i < 20_000; i++) if (throttle.admit(`fake-${i}`, 'x')) logged++;
    assert.equal(logged, 200);
    for (let i = 0; i < 5_000; i++) throttle.admit('fake-1', 'x');
    clock.advance(WINDOW_MS);
    assert.ok(lines.length <= 51, `${lines.length} summary lines`);
    const unlogged = lines.reduce((n, l) => n + (l.fields.unlogged as number), 0);
    assert.equal(unlogged, 20_000 + 5_000 - 200, 'every refusal not logged is counted in a summary');
    assert.match(lines.at(-1)!.msg, /more refusals of other devices in the last 60 s/);
  });
});
