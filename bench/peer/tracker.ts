/**
 * Counts the stamped bodies (kit/traffic.ts stampedBody: send time, message number) a load
 * process receives: each number once, duplicates apart, the send-to-receive latency of each, and
 * the process's CPU from the first expectation to the result. Used by the fleet (C2D deliveries)
 * and by the ingest reader (telemetry read back). A process answers its raw part (which numbers it
 * saw, and each one's latency); the bench merges the parts of all its processes (merge.ts).
 */
import { type CpuMark, cpuMark, cpuPercent } from '../kit/measure.js';
import type { DeliveryPart } from './merge.js';

export type { DeliveryPart, FleetResult } from './merge.js';

/** Deliveries of message numbers base..base+total-1, each one's latency kept at its number's place. */
export class Tracker {
  readonly seen: Uint8Array;
  readonly latencies: Float64Array;
  unique = 0;
  duplicates = 0;
  tLast = 0n;
  readonly cpu: CpuMark = cpuMark();

  /** `expected`: how many of the numbers come to this process (its devices' share; all by default). */
  constructor(
    readonly base: number,
    readonly total: number,
    readonly expected = total,
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
    this.latencies[i] = Number(now - body.readBigUInt64BE(0)) / 1e6;
    this.unique++;
    this.tLast = now;
  }

  part(): DeliveryPart {
    return {
      seen: this.seen,
      latencies: this.latencies,
      unique: this.unique,
      duplicates: this.duplicates,
      tLast: this.tLast,
      cpu: cpuPercent(this.cpu),
    };
  }
}

/** Resolves with the tracker's part when all it expects arrived, or nothing new came for `quietMs`. */
export async function untilQuiet(t: Tracker, quietMs: number): Promise<DeliveryPart> {
  let last = -1;
  let lastChange = Date.now();
  while (t.unique < t.expected) {
    if (t.unique !== last) {
      last = t.unique;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > quietMs) {
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return t.part();
}

/**
 * The expect and wait commands of a load process that counts what it receives: expect starts a
 * new count of numbers base..base+total-1, wait answers (the process's part) when the `share` of
 * them that comes to this process arrived or nothing came for quietMs; `record` feeds the current
 * count.
 */
export function trackingCommands(share: (total: number) => number = (total) => total) {
  let tracker: Tracker | undefined;
  return {
    record: (body: Buffer): void => tracker?.record(body),
    expect: async (arg: unknown): Promise<null> => {
      const { base, total } = arg as { base: number; total: number };
      tracker = new Tracker(base, total, share(total));
      return null;
    },
    /** Unique numbers so far (for a bench that waits on several processes at once). */
    count: async (): Promise<number> => tracker?.unique ?? 0,
    /** This process's part now, without waiting. */
    part: async (): Promise<DeliveryPart> => {
      if (!tracker) throw new Error('expect first');
      return tracker.part();
    },
    wait: async (arg: unknown): Promise<DeliveryPart> => {
      if (!tracker) throw new Error('expect first');
      return untilQuiet(tracker, (arg as { quietMs: number }).quietMs);
    },
  };
}
