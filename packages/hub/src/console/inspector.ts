/**
 * What the console (and any client of Ferry's extension endpoints) may look at without changing
 * anything: a device's pending messages, hub statistics, and the feedback records as the engine
 * creates them on any node. Reads only; nothing here leases, settles or takes feedback from the queue. The
 * statistics come from the hub's metrics, in memory: a sample never queries the store.
 */
import type { FeedbackRecord } from '@ferry/common';
import type { Clock } from '../clock.js';
import type { ClusterEvents } from '../cluster/signal-bus.js';
import type { HistogramSample } from '../observability/histogram.js';
import type { ConnectionSource, HubMetrics } from '../observability/metrics.js';
import type { InspectionStore, PendingMessage } from '../store/types.js';

/** Totals since the hub started, so a client turns two samples into rates. */
export interface HubStats {
  /** ISO 8601, when the sample was taken. */
  time: string;
  /** This node's open connections by protocol. */
  connections: Record<string, number>;
  /** Devices connected hub-wide, on every node, as this node's last heartbeat read them (every cluster.nodeTimeoutMs / 3). */
  devicesConnected: number;
  c2d: { sent: number; completed: number; abandoned: number; rejected: number };
  /** Hub-wide pending messages. */
  queues: { enqueued: number; invisible: number };
  /** Hub-wide feedback records not yet taken by a service. */
  feedbackRecords: number;
  /** Device-to-cloud messages appended to the event log by this node, and their body bytes. */
  telemetry: { messages: number; bytes: number };
  /**
   * Cumulative latency histograms in seconds (as /metrics has them): a client turns two samples
   * into the quantiles of the time between them. commit: a group commit with its sync; delivery:
   * enqueue to first delivery; settle: delivery to the device's settle.
   */
  latency: { commit: HistogramSample; delivery: HistogramSample; settle: HistogramSample };
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
  async function sample(now: number): Promise<HubStats> {
    const [sends, settles] = await Promise.all([metrics.sends.get(), metrics.settles.get()]);
    const { enqueued, invisible, feedbackRecords } = metrics.pending.figures;
    const settled = (outcome: string) =>
      settles.values
        .filter((v) => v.labels.outcome === outcome && v.labels.result === 'ok')
        .reduce((n, v) => n + v.value, 0);
    const connections: Record<string, number> = {};
    for (const [protocol, source] of Object.entries(opts.connections)) connections[protocol] = source.connectionCount;
    return {
      time: new Date(now).toISOString(),
      connections,
      devicesConnected: opts.hubConnections?.hubConnected ?? Object.values(connections).reduce((sum, n) => sum + n, 0),
      c2d: {
        sent: sends.values.filter((v) => v.labels.result === 'ok').reduce((n, v) => n + v.value, 0),
        completed: settled('complete'),
        abandoned: settled('abandon'),
        rejected: settled('reject'),
      },
      queues: { enqueued, invisible },
      feedbackRecords,
      telemetry: metrics.telemetryTotals(),
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
