/**
 * What the console (and any client of Ferry's extension endpoints) may look at without changing
 * anything: a device's pending messages, hub statistics, and the feedback records as the engine
 * creates them on any node. Reads only; nothing here leases, settles or takes feedback from the queue. The
 * statistics come from the hub's metrics, in memory; on several nodes a sample also reads the
 * nodes' rows (a few rows, at most twice a second while a console is open) for their totals.
 */
import type { FeedbackRecord } from '@ferry/common';
import type { Clock } from '../clock.js';
import type { ClusterEvents } from '../cluster/signal-bus.js';
import type { HistogramSample } from '../observability/histogram.js';
import type { ConnectionSource, HubMetrics } from '../observability/metrics.js';
import type { InspectionStore, NodeCounters, NodeRecord, PendingMessage } from '../store/types.js';

/** Totals since the hub started, so a client turns two samples into rates. */
export interface HubStats {
  /** ISO 8601, when the sample was taken. */
  time: string;
  /** This node's open connections by protocol. */
  connections: Record<string, number>;
  /** Devices connected hub-wide, on every node, as this node's last heartbeat read them (every cluster.nodeTimeoutMs / 3). */
  devicesConnected: number;
  /** C2D sends and settlements: this node's, or on several nodes the sum over `nodes`. */
  c2d: NodeCounters['c2d'];
  /** Hub-wide pending messages. */
  queues: { enqueued: number; invisible: number };
  /** Hub-wide feedback records not yet taken by a service. */
  feedbackRecords: number;
  /** Device-to-cloud messages appended to the event log, and their body bytes: as `c2d`. */
  telemetry: NodeCounters['telemetry'];
  /**
   * Several nodes (PostgreSQL): each live node's totals since it started, this node's as of now,
   * the others' as of their last heartbeat (`at`); a client takes rates per node from them.
   */
  nodes?: NodeTotals[];
  /**
   * Cumulative latency histograms in seconds (as /metrics has them): a client turns two samples
   * into the quantiles of the time between them. commit: a group commit with its sync; delivery:
   * enqueue to first delivery; settle: delivery to the device's settle.
   */
  latency: { commit: HistogramSample; delivery: HistogramSample; settle: HistogramSample };
}

/** One node's totals in a statistics sample. */
export interface NodeTotals extends NodeCounters {
  nodeId: string;
  /** ISO 8601: when the totals were taken (this node: the sample; another: its last heartbeat). */
  at: string;
  /** The node serving this sample. */
  self: boolean;
}

export interface HubInspector {
  pending(deviceId: string, limit: number): Promise<PendingMessage[]>;
  stats(): Promise<HubStats>;
  /** Feedback records as committed, on this node or another; returns the unsubscribe function. */
  onFeedbackRecords(listener: (records: readonly FeedbackRecord[]) => void): () => void;
  /** The last records made since the hub started (at most RECENT_RECORDS), oldest first. */
  recentFeedback(): readonly FeedbackRecord[];
}

/** Feedback records a new event stream is given first, so a page opened later sees recent ones. */
export const RECENT_RECORDS = 100;
/** How long one statistics sample is reused. */
const STATS_REUSE_MS = 500;

export interface InspectorOptions {
  store: Pick<InspectionStore, 'peekMessages'>;
  clock: Clock;
  metrics: HubMetrics;
  connections: Readonly<Record<string, ConnectionSource>>;
  feedback: { onFeedbackRecords(listener: (records: readonly FeedbackRecord[]) => void): () => void };
  /** The hub-wide connected count (cluster/node-heartbeat.ts); none: this node's connections. */
  hubConnections?: { readonly hubConnected: number };
  /** The records other nodes commit (issue 28: a console on any node sees every node's feedback). */
  cluster?: Pick<ClusterEvents, 'onRemoteFeedbackRecords'>;
  /** Several nodes: this node's id and the nodes' rows, whose heartbeats carry their totals. */
  nodes?: { nodeId: string; list(): Promise<NodeRecord[]> };
}

export function createInspector(opts: InspectorOptions): HubInspector {
  const { store, clock, metrics } = opts;
  let recent: FeedbackRecord[] = [];
  const onFeedbackRecords = (listener: (records: readonly FeedbackRecord[]) => void) => {
    const local = opts.feedback.onFeedbackRecords(listener);
    const remote = opts.cluster?.onRemoteFeedbackRecords(listener);
    return () => {
      local();
      remote?.();
    };
  };
  // Kept for the life of the hub; the subscriptions end with the engine and the bus.
  onFeedbackRecords((records) => {
    recent = recent.concat(records).slice(-RECENT_RECORDS);
  });
  /** This node's totals, and on several nodes the hub's: the others' as of their last heartbeat. */
  async function totals(now: number): Promise<Pick<HubStats, 'c2d' | 'telemetry' | 'nodes'>> {
    const [own, rows] = await Promise.all([metrics.totals(), opts.nodes?.list()]);
    if (!opts.nodes || !rows) return own;
    const self = opts.nodes.nodeId;
    const nodes: NodeTotals[] = [{ nodeId: self, at: new Date(now).toISOString(), self: true, ...own }];
    for (const n of rows)
      if (n.nodeId !== self && n.counters)
        nodes.push({ nodeId: n.nodeId, at: new Date(n.heartbeatAt).toISOString(), self: false, ...n.counters });
    const sum = (pick: (n: NodeTotals) => number) => nodes.reduce((total, n) => total + pick(n), 0);
    return {
      c2d: {
        sent: sum((n) => n.c2d.sent),
        completed: sum((n) => n.c2d.completed),
        abandoned: sum((n) => n.c2d.abandoned),
        rejected: sum((n) => n.c2d.rejected),
      },
      telemetry: { messages: sum((n) => n.telemetry.messages), bytes: sum((n) => n.telemetry.bytes) },
      nodes,
    };
  }
  async function sample(now: number): Promise<HubStats> {
    const { enqueued, invisible, feedbackRecords } = metrics.pending.figures;
    const connections: Record<string, number> = {};
    for (const [protocol, source] of Object.entries(opts.connections)) connections[protocol] = source.connectionCount;
    return {
      time: new Date(now).toISOString(),
      connections,
      devicesConnected: opts.hubConnections?.hubConnected ?? Object.values(connections).reduce((sum, n) => sum + n, 0),
      ...(await totals(now)),
      queues: { enqueued, invisible },
      feedbackRecords,
      latency: {
        commit: metrics.commitSeconds.sample(),
        delivery: metrics.deliverySeconds.sample(),
        settle: metrics.settleSeconds.sample(),
      },
    };
  }
  let cached: { at: number; stats: Promise<HubStats> } | undefined;
  return {
    pending: (deviceId, limit) => store.peekMessages(deviceId, clock.now(), limit),
    stats() {
      // Every open stream asks each second; one sample serves them all for a moment.
      const at = clock.now();
      if (cached && at - cached.at < STATS_REUSE_MS) return cached.stats;
      const stats = sample(at);
      cached = { at, stats };
      stats.catch(() => {
        if (cached?.stats === stats) cached = undefined;
      });
      return stats;
    },
    onFeedbackRecords,
    recentFeedback: () => recent,
  };
}
