/** The overview's latencies: quantiles of the hub's cumulative histograms between two samples. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HubStats } from '../src/events.js';
import { latencyOver } from '../src/hub-events.js';
import { formatSeconds, type HistogramSample, quantileBetween } from '../src/latency.js';

const bounds = [0.001, 0.01, 0.1, 1];
const hist = (cumulative: number[], count: number): HistogramSample => ({ bounds, cumulative, count, sum: 0 });

test('a quantile is interpolated within its bucket, over the observations between two samples only', () => {
  const before = hist([10, 10, 10, 10], 10); // ten fast ones, long ago
  const after = hist([10, 20, 110, 110], 110); // then 10 in (1, 10] ms and 90 in (10, 100] ms
  const near = (a: number | undefined, b: number) =>
    assert.ok(a !== undefined && Math.abs(a - b) < 1e-12, `${a} != ${b}`);
  near(quantileBetween(before, after, 0.05), 0.001 + 0.009 * 0.5);
  near(quantileBetween(before, after, 0.5), 0.01 + 0.09 * (40 / 90));
  assert.ok(Math.abs(quantileBetween(undefined, after, 0.05)! - 0.001 * (5.5 / 10)) < 1e-12, 'since the start');
  assert.equal(quantileBetween(after, after, 0.5), undefined, 'nothing between them');
  assert.equal(quantileBetween(undefined, hist([0, 0, 0, 0], 3), 0.99), 1, 'past the last bound: the last bound');
});

test('the overview reads p50 and p99 over its window of samples, and nothing from a hub without histograms', () => {
  const at = (commit: HistogramSample): HubStats => ({
    time: '2026-01-01T00:00:00.000Z',
    connections: {},
    c2d: { sent: 0, completed: 0, abandoned: 0, rejected: 0 },
    queues: { enqueued: 0, invisible: 0 },
    latency: { commit, delivery: hist([0, 0, 0, 0], 0), settle: hist([0, 0, 0, 0], 0) },
  });
  const window = [
    at(hist([100, 100, 100, 100], 100)),
    at(hist([100, 100, 100, 100], 100)),
    at(hist([100, 200, 200, 200], 200)),
  ];
  const l = latencyOver(window);
  assert.equal(l.commit?.count, 100);
  assert.ok(l.commit!.p50 > 0.001 && l.commit!.p99 <= 0.01, JSON.stringify(l.commit));
  assert.equal(l.delivery, undefined, 'no delivery in the window');
  const { latency: _, ...old } = window[0]!;
  assert.deepEqual(latencyOver([old]), {});
  assert.deepEqual([0.0004, 0.0042, 0.0421, 1.5].map(formatSeconds), ['0.40 ms', '4.2 ms', '42 ms', '1.5 s']);
});
