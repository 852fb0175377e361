/**
 * The console's statistics on several nodes (issue 28): the C2D and telemetry totals are summed
 * over the nodes, this node's live and the others' as their heartbeats published them, and each
 * node's totals come with the sample so a client takes rates per node. One process (no nodes
 * given) keeps its own figures and no `nodes` list.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { createInspector } from '../src/console/inspector.js';
import { HubMetrics } from '../src/observability/metrics.js';
import type { NodeRecord } from '../src/store/types.js';

const T0 = Date.UTC(2026, 11, 7, 9, 0, 0);
const noFeedback = { onFeedbackRecords: () => () => {} };
const store = { peekMessages: async () => [] };

function localMetrics(): HubMetrics {
  const metrics = new HubMetrics();
  metrics.countSends('ok', 5);
  metrics.countSends('DeviceNotFound', 2);
  metrics.countSettle('complete', 'ok');
  metrics.countSettle('abandon', 'ok');
  return metrics;
}

const row = (nodeId: string, heartbeatAt: number, counters?: NodeRecord['counters']): NodeRecord => ({
  nodeId,
  address: `${nodeId}.example:443`,
  connections: 0,
  startedAt: T0 - 60_000,
  heartbeatAt,
  ...(counters ? { counters } : {}),
});

test('one process: its own totals, no nodes list', async () => {
  const inspector = createInspector({
    store,
    clock: new ManualClock(T0),
    metrics: localMetrics(),
    connections: {},
    feedback: noFeedback,
  });
  const stats = await inspector.stats();
  assert.deepEqual(stats.c2d, { sent: 5, completed: 1, abandoned: 1, rejected: 0 });
  assert.deepEqual(stats.telemetry, { messages: 0, bytes: 0 });
  assert.equal(stats.nodes, undefined);
});

test("several nodes: totals summed over this node's live figures and the others' heartbeats", async () => {
  const other = {
    c2d: { sent: 100, completed: 90, abandoned: 3, rejected: 2 },
    telemetry: { messages: 40, bytes: 4000 },
  };
  const inspector = createInspector({
    store,
    clock: new ManualClock(T0),
    metrics: localMetrics(),
    connections: {},
    feedback: noFeedback,
    nodes: {
      nodeId: 'self',
      // Its own row is stale (this node's figures are read live); a node from before counters has none.
      list: async () => [
        row('other', T0 - 4000, other),
        row('old', T0 - 1000),
        row('self', T0 - 9000, {
          c2d: { sent: 1, completed: 0, abandoned: 0, rejected: 0 },
          telemetry: other.telemetry,
        }),
      ],
    },
  });
  const stats = await inspector.stats();
  assert.deepEqual(stats.c2d, { sent: 105, completed: 91, abandoned: 4, rejected: 2 });
  assert.deepEqual(stats.telemetry, { messages: 40, bytes: 4000 });
  assert.deepEqual(stats.nodes, [
    {
      nodeId: 'self',
      self: true,
      at: new Date(T0).toISOString(),
      c2d: { sent: 5, completed: 1, abandoned: 1, rejected: 0 },
      telemetry: { messages: 0, bytes: 0 },
    },
    { nodeId: 'other', self: false, at: new Date(T0 - 4000).toISOString(), ...other },
  ]);
});
