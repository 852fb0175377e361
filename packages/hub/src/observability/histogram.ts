/**
 * A Prometheus histogram without labels whose observations cost a few array writes: prom-client's
 * own observe() builds a label object and a closure per call, too dear for every message. The
 * counts live in typed arrays and are read by prom-client's registry at each scrape (get).
 */
import {
  Histogram,
  type MetricObjectWithValues,
  type MetricType,
  type MetricValueWithName,
  type Registry,
} from 'prom-client';

/** prom-client's typings call the type a numeric enum; its registry prints the string. */
const HISTOGRAM = 'histogram' as unknown as MetricType;

/**
 * Seconds, for latencies from a fraction of a millisecond (a delivery on an idle hub, a group
 * commit without a sync) to the seconds a stalled disk or an offline device makes. The figures
 * the benchmarks show (docs/store-hot-path.md: deliveries 0.2-3 ms p50-p99, commits with their
 * fdatasync 1-10 ms) fall in the middle, a few buckets each.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/** Operations in one group commit: 1 when idle, hundreds under a fan-out (at most 1,000). */
export const GROUP_SIZE_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000];

/** A cumulative histogram as read at one moment (the console turns two of these into quantiles). */
export interface HistogramSample {
  /** Upper bounds, ascending; the last bucket (+Inf) is implied by `count`. */
  bounds: readonly number[];
  /** Cumulative count of observations <= each bound. */
  cumulative: number[];
  count: number;
  sum: number;
}

export class FastHistogram extends Histogram<string> {
  private readonly metricName: string;
  private readonly helpText: string;
  private readonly bounds: Float64Array;
  /** Per bucket, not cumulative; the last slot is +Inf. */
  private readonly counts: Float64Array;
  private total = 0;
  private sumOf = 0;

  constructor(opts: { name: string; help: string; buckets: readonly number[]; registry: Registry }) {
    super({ name: opts.name, help: opts.help, buckets: [...opts.buckets], registers: [opts.registry] });
    this.metricName = opts.name;
    this.helpText = opts.help;
    this.bounds = Float64Array.from(opts.buckets);
    this.counts = new Float64Array(opts.buckets.length + 1);
  }

  /** One observation (no label, no allocation). */
  record(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.total++;
    this.sumOf += value;
  }

  get count(): number {
    return this.total;
  }

  sample(): HistogramSample {
    const cumulative: number[] = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]!;
      cumulative.push(acc);
    }
    return { bounds: [...this.bounds], cumulative, count: this.total, sum: this.sumOf };
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.exposition();
  }

  /** What the registry formats (prom-client prefers this to get() when a metric has it). */
  async getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    return this.exposition();
  }

  private exposition(): MetricObjectWithValues<MetricValueWithName<string>> {
    const s = this.sample();
    const name = this.metricName;
    const values: Array<MetricValueWithName<string>> = s.bounds.map((le, i) => ({
      labels: { le },
      value: s.cumulative[i]!,
      metricName: `${name}_bucket`,
    }));
    values.push(
      { labels: { le: '+Inf' }, value: s.count, metricName: `${name}_bucket` },
      { labels: {}, value: s.sum, metricName: `${name}_sum` },
      { labels: {}, value: s.count, metricName: `${name}_count` },
    );
    return { name, help: this.helpText, type: HISTOGRAM, aggregator: 'sum', collect: () => undefined, values };
  }
}
