/**
 * Latency quantiles from the hub's cumulative histograms (the ones /metrics exports), between two
 * statistics samples: the overview shows the last seconds, not the hub's whole life.
 */

/** A cumulative histogram as the hub sends it: counts of observations <= each bound (seconds). */
export interface HistogramSample {
  bounds: number[];
  cumulative: number[];
  count: number;
  sum: number;
}

export interface Quantiles {
  p50: number;
  p99: number;
  /** Observations between the two samples. */
  count: number;
}

/**
 * The q-quantile (0..1) of the observations between two samples, interpolated within its bucket
 * as Prometheus's histogram_quantile does; undefined when there were none. Past the last bound it
 * answers the last bound, as histogram_quantile does.
 */
export function quantileBetween(
  before: HistogramSample | undefined,
  after: HistogramSample,
  q: number,
): number | undefined {
  const count = after.count - (before?.count ?? 0);
  if (count <= 0) return undefined;
  const rank = q * count;
  let below = 0;
  for (let i = 0; i < after.bounds.length; i++) {
    const upTo = after.cumulative[i]! - (before?.cumulative[i] ?? 0);
    if (upTo >= rank) {
      const lower = i === 0 ? 0 : after.bounds[i - 1]!;
      const inBucket = upTo - below;
      return lower + (after.bounds[i]! - lower) * (inBucket === 0 ? 1 : (rank - below) / inBucket);
    }
    below = upTo;
  }
  return after.bounds[after.bounds.length - 1];
}

export function quantiles(before: HistogramSample | undefined, after: HistogramSample): Quantiles | undefined {
  const p50 = quantileBetween(before, after, 0.5);
  const p99 = quantileBetween(before, after, 0.99);
  if (p50 === undefined || p99 === undefined) return undefined;
  return { p50, p99, count: after.count - (before?.count ?? 0) };
}

/** Seconds as a person reads them: '0.4 ms', '12 ms', '1.5 s'. */
export function formatSeconds(s: number): string {
  if (s < 0.001) return `${(s * 1000).toFixed(2)} ms`;
  if (s < 0.01) return `${(s * 1000).toFixed(1)} ms`;
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  return `${s.toFixed(1)} s`;
}
