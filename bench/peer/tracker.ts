/**
 * Counts the stamped bodies (kit/traffic.ts stampedBody: send time, message number) a load
 * process receives: each number once, duplicates apart, the send-to-receive latency of each, and
 * the process's CPU from the first expectation to the result. Used by the fleet (C2D deliveries)
 * and by the ingest reader (telemetry read back).
 */
import { type CpuMark, cpuMark, cpuPercent } from '../kit/measure.js';
import { percentile } from '../stats.js';

export interface FleetResult {
  unique: number;
  duplicates: number;
  /** hrtime (ns) of the last unique delivery (0n when none). */
  tLast: bigint;
  p50: number;
  p99: number;
  p999: number;
  /** CPU of this process from expect() to the end of wait(), % of one core. */
  cpu: number;
}

/** Unique deliveries of message numbers base..base+total-1, with their latencies. */
export class Tracker {
  readonly seen: Uint8Array;
  readonly latencies: Float64Array;
  unique = 0;
  duplicates = 0;
  tLast = 0n;
  readonly cpu: CpuMark = cpuMark();

  constructor(
    readonly base: number,
    readonly total: number,
  ) {
    this.seen = new Uint8Array(total);
    this.latencies = new Float64Array(total);
  }

  record(body: Buffer): void {
    if (body.length < 12) return;
    const i = body.readUInt32BE(8) - this.base;
    if (i < 0 || i >= this.total) return;
    if (this.seen[i]) {
      this.duplicates++;
      return;
    }
    const now = process.hrtime.bigint();
    this.seen[i] = 1;
    this.latencies[this.unique++] = Number(now - body.readBigUInt64BE(0)) / 1e6;
    this.tLast = now;
  }

  result(): FleetResult {
    const sorted = Array.from(this.latencies.subarray(0, this.unique).sort());
    const r = (x: number) => Math.round(x * 100) / 100;
    return {
      unique: this.unique,
      duplicates: this.duplicates,
      tLast: this.tLast,
      p50: r(percentile(sorted, 50)),
      p99: r(percentile(sorted, 99)),
      p999: r(percentile(sorted, 99.9)),
      cpu: cpuPercent(this.cpu),
    };
  }
}

/** Resolves with the tracker's result when all it expects arrived, or nothing new came for `quietMs`. */
export async function untilQuiet(t: Tracker, quietMs: number): Promise<FleetResult> {
  let last = -1;
  let lastChange = Date.now();
  while (t.unique < t.total) {
    if (t.unique !== last) {
      last = t.unique;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) {
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return t.result();
}

/**
 * The expect and wait commands of a load process that counts what it receives: expect starts a
 * new count of numbers base..base+total-1, wait answers when they arrived or nothing came for
 * quietMs; `record` feeds the current count.
 */
export function trackingCommands() {
  let tracker: Tracker | undefined;
  return {
    record: (body: Buffer): void => tracker?.record(body),
    expect: async (arg: unknown): Promise<null> => {
      const { base, total } = arg as { base: number; total: number };
      tracker = new Tracker(base, total);
      return null;
    },
    wait: async (arg: unknown): Promise<FleetResult> => {
      if (!tracker) throw new Error('expect first');
      return untilQuiet(tracker, (arg as { quietMs: number }).quietMs);
    },
  };
}
