/**
 * One event stream per signed-in tab, opened at sign-in: statistics for the overview and every
 * feedback record since, so any page shows the records that arrived while another was open.
 */
import { useEffect, useState } from 'preact/hooks';
import { type FeedbackRecord, type HubStats, openEventStream } from './events.js';
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

export function useHubEvents(session: Session | null): HubEvents {
  const [events, setEvents] = useState<HubEvents>({
    stats: null,
    recent: [],
    latency: {},
    points: [],
    records: [],
    connected: false,
    error: null,
  });
  useEffect(() => {
    setEvents({ stats: null, recent: [], latency: {}, points: [], records: [], connected: false, error: null });
    if (!session?.can('ServiceConnect')) return;
    const seen = new Set<string>();
    return openEventStream(session.api, {
      onStats: (s) =>
        setEvents((e) => {
          const p = e.stats && rate(e.stats, s);
          const recent = [...e.recent, s].slice(-LATENCY_SAMPLES);
          return {
            ...e,
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
