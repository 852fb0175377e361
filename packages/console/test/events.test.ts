/** The console's reading of the hub's event stream and its rates. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HubStats, parseEvents } from '../src/events.js';
import { rate } from '../src/hub-events.js';

describe('event stream parsing', () => {
  test('complete blocks are emitted in order, a split block waits for its end', () => {
    const got: Array<[string, string]> = [];
    const emit = (name: string, data: string) => got.push([name, data]);
    let rest = parseEvents(': hello\n\nevent: stats\ndata: {"a":1}\n\nevent: feed', emit);
    assert.equal(rest, 'event: feed');
    rest = parseEvents(`${rest}back\ndata: {"b":2}\n\ndata: x\n`, emit);
    assert.equal(rest, 'data: x\n');
    assert.deepEqual(got, [
      ['stats', '{"a":1}'],
      ['feedback', '{"b":2}'],
    ]);
  });
});

describe('rates from two samples', () => {
  const sample = (time: string, sent: number, completed: number, telemetry?: number): HubStats => ({
    time,
    connections: {},
    c2d: { sent, completed, abandoned: 0, rejected: 0 },
    queues: { enqueued: 0, invisible: 0 },
    ...(telemetry === undefined ? {} : { telemetry: { messages: telemetry, bytes: 0 } }),
  });
  test('per second over the time between them; none for samples out of order', () => {
    const p = rate(sample('2026-01-01T00:00:00.000Z', 10, 4, 100), sample('2026-01-01T00:00:02.000Z', 30, 10, 500));
    assert.deepEqual(p, { t: Date.parse('2026-01-01T00:00:02.000Z'), sent: 10, completed: 3, telemetry: 200 });
    // A hub that does not count telemetry: 0 per second.
    assert.equal(
      rate(sample('2026-01-01T00:00:00.000Z', 1, 1), sample('2026-01-01T00:00:01.000Z', 2, 2))?.telemetry,
      0,
    );
    assert.equal(rate(sample('2026-01-01T00:00:02.000Z', 1, 1), sample('2026-01-01T00:00:02.000Z', 2, 2)), undefined);
  });
});
