/** The console's reading of the hub's event stream and its rates. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HubStats, type NodeTotals, parseEvents } from '../src/events.js';
import { clusterRate, type NodeRates, rate } from '../src/hub-events.js';

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

describe('clusterRate', () => {
  const totals = (nodeId: string, at: number, sent: number, telemetry = 0): NodeTotals => ({
    nodeId,
    at: new Date(at).toISOString(),
    self: nodeId === 'self',
    c2d: { sent, completed: sent, abandoned: 0, rejected: 0 },
    telemetry: { messages: telemetry, bytes: 0 },
  });
  const sample = (time: number, nodes: NodeTotals[]): HubStats => ({
    time: new Date(time).toISOString(),
    connections: {},
    c2d: { sent: 0, completed: 0, abandoned: 0, rejected: 0 },
    queues: { enqueued: 0, invisible: 0 },
    nodes,
  });
  test("each node's rate between its own totals, another's held between its heartbeats; a node gone counts no more", () => {
    let rates: NodeRates = {};
    const step = (s: HubStats) => {
      const r = clusterRate(rates, s);
      rates = r.nodes;
      return r.point && [r.point.sent, r.point.telemetry];
    };
    // First sample: nothing to take a rate from.
    assert.equal(step(sample(0, [totals('self', 0, 0), totals('other', -5000, 0)])), undefined);
    // This node sent 10 in 1 s; the other has not heart-beaten again.
    assert.deepEqual(step(sample(1000, [totals('self', 1000, 10), totals('other', -5000, 0)])), [10, 0]);
    // The other's heartbeat: 200 sends and 50 telemetry over its 10 s.
    assert.deepEqual(step(sample(2000, [totals('self', 2000, 20), totals('other', 5000, 200, 50)])), [30, 5]);
    // Held until its next heartbeat.
    assert.deepEqual(step(sample(3000, [totals('self', 3000, 30), totals('other', 5000, 200, 50)])), [30, 5]);
    // Released: its totals leave the sum, and no negative rate follows.
    assert.deepEqual(step(sample(4000, [totals('self', 4000, 40)])), [10, 0]);
    assert.deepEqual(Object.keys(rates), ['self']);
  });
});
