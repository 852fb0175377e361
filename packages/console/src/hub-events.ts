/**
 * One event stream per signed-in tab, opened at sign-in: statistics for the overview and every
 * feedback record since, so any page shows the records that arrived while another was open.
 */
import { useEffect, useState } from 'preact/hooks';
import { type FeedbackRecord, type HubStats, type NodeTotals, openEventStream } from './events.js';
import { type Quantiles, quantiles } from './latency.js';
import type { Session } from './session.js';

/** One minute of one-second samples. */
const KEEP_POINTS = 60;
/** Records kept on screen. */
const KEEP_RECORDS = 500;
/** Latencies are shown over the last ten one-second samples. */
const LATENCY_SAMPLES = 11;

export interface RatePoint {
  /** ms since the epoch */
  t: number;
  sent: number;
  completed: number;
  /** telemetry messages per second (0 from a hub that does not count them) */
  telemetry: number;
}

/** p50 and p99 of the hub's latencies over the last seconds; undefined where nothing was measured. */
export interface Latency {
  commit?: Quantiles;
  delivery?: Quantiles;
  settle?: Quantiles;
}

export interface HubEvents {
  stats: HubStats | null;
  /** The last samples, oldest first (for the latencies). */
  recent: HubStats[];
  latency: Latency;
  /** sends and completions per second, oldest first */
  points: RatePoint[];
  /** newest first */
  records: FeedbackRecord[];
  connected: boolean;
  error: unknown;
  /** Several nodes: what the rates are taken from. */
  nodeRates: NodeRates;
}

export function rate(prev: HubStats, s: HubStats): RatePoint | undefined {
  const dt = (Date.parse(s.time) - Date.parse(prev.time)) / 1000;
  if (!(dt > 0)) return undefined;
  return {
    t: Date.parse(s.time),
    sent: (s.c2d.sent - prev.c2d.sent) / dt,
    completed: (s.c2d.completed - prev.c2d.completed) / dt,
    telemetry: ((s.telemetry?.messages ?? 0) - (prev.telemetry?.messages ?? 0)) / dt,
  };
}

/** Per node: its last totals and its rates between its last two (another node's move only at its heartbeats). */
export type NodeRates = Record<string, { last: NodeTotals; rate?: Omit<RatePoint, 't'> }>;

/**
 * The hub-wide rates of a sample from several nodes: the sum of each live node's rate, taken
 * between its own last two totals (this node's every sample, another's at each of its heartbeats,
 * held in between), so a node's figures arriving in steps do not make spikes, and a node gone
 * (its totals no longer counted) does not make a negative rate. Undefined until one node has two.
 */
export function clusterRate(prev: NodeRates, s: HubStats): { nodes: NodeRates; point: RatePoint | undefined } {
  const nodes: NodeRates = {};
  let any = false;
  const point: RatePoint = { t: Date.parse(s.time), sent: 0, completed: 0, telemetry: 0 };
  for (const n of s.nodes ?? []) {
    const before = prev[n.nodeId];
    const dt = before ? (Date.parse(n.at) - Date.parse(before.last.at)) / 1000 : 0;
    const entry: NodeRates[string] =
      before && dt > 0
        ? {
            last: n,
            rate: {
              sent: (n.c2d.sent - before.last.c2d.sent) / dt,
              completed: (n.c2d.completed - before.last.c2d.completed) / dt,
              telemetry: (n.telemetry.messages - before.last.telemetry.messages) / dt,
            },
          }
        : (before ?? { last: n });
    nodes[n.nodeId] = entry;
    if (entry.rate) {
      any = true;
      point.sent += entry.rate.sent;
      point.completed += entry.rate.completed;
      point.telemetry += entry.rate.telemetry;
    }
  }
  return { nodes, point: any ? point : undefined };
}

/** Latencies between the oldest and the newest sample (since the hub started, with one sample). */
export function latencyOver(samples: readonly HubStats[]): Latency {
  const last = samples[samples.length - 1]?.latency;
  if (!last) return {};
  const first = samples.length > 1 ? samples[0]!.latency : undefined;
  const out: Latency = {};
  for (const key of ['commit', 'delivery', 'settle'] as const) {
    const q = quantiles(first?.[key], last[key]);
    if (q) out[key] = q;
  }
  return out;
}

const EMPTY: HubEvents = {
  stats: null,
  recent: [],
  latency: {},
  points: [],
  records: [],
  connected: false,
  error: null,
  nodeRates: {},
};

export function useHubEvents(session: Session | null): HubEvents {
  const [events, setEvents] = useState<HubEvents>(EMPTY);
  useEffect(() => {
    setEvents(EMPTY);
    if (!session?.can('ServiceConnect')) return;
    const seen = new Set<string>();
    return openEventStream(session.api, {
      onStats: (s) =>
        setEvents((e) => {
          // Several nodes: rates per node; one: between this sample and the last.
          const cluster = s.nodes ? clusterRate(e.nodeRates, s) : undefined;
          const p = cluster ? cluster.point : e.stats && rate(e.stats, s);
          const recent = [...e.recent, s].slice(-LATENCY_SAMPLES);
          return {
            ...e,
            nodeRates: cluster?.nodes ?? {},
            stats: s,
            recent,
            latency: latencyOver(recent),
            points: p ? [...e.points, p].slice(-KEEP_POINTS) : e.points,
          };
        }),
      onFeedback: (r) => {
        // A new stream starts with the hub's recent records, which may have been seen already.
        const key = `${r.deviceId}|${r.originalMessageId}|${r.statusCode}|${r.enqueuedTimeUtc}`;
        if (seen.has(key)) return;
        seen.add(key);
        setEvents((e) => ({ ...e, records: [r, ...e.records].slice(0, KEEP_RECORDS) }));
      },
      onState: (connected, error) => setEvents((e) => ({ ...e, connected, error: error ?? null })),
    });
  }, [session]);
  return events;
}
