/**
 * A role of the peer benchmark's load side (the fleet, the sender, the publishers) runs as several
 * processes, so that no one process sets the pace (load-group.ts). This file holds the arithmetic
 * of that split, kept pure so a unit test proves it: how work is shared out (devices, the window,
 * message numbers) and how the processes' answers are merged back into one, exactly: the
 * latencies of every delivery (not percentiles of percentiles), unique numbers counted once over
 * all processes (one seen by two processes is a duplicate), and each process's CPU kept apart.
 */
import { percentile } from '../stats.js';

/** `total` split into `parts` whole shares as even as possible, the larger ones first. */
export function shares(total: number, parts: number): number[] {
  if (!Number.isInteger(parts) || parts < 1) throw new Error(`shares: ${parts} parts`);
  const each = Math.floor(total / parts);
  const more = total - each * parts;
  return Array.from({ length: parts }, (_, k) => each + (k < more ? 1 : 0));
}

/** Contiguous slices of `items`, one per part, sized by shares(): [from, to) into items. */
export function slices(length: number, parts: number): Array<{ from: number; to: number }> {
  let from = 0;
  return shares(length, parts).map((n) => {
    const slice = { from, to: from + n };
    from += n;
    return slice;
  });
}

/**
 * How many of message indices 0..total-1 go to devices [from, to) of a fleet of `fleetSize`,
 * message i going to device i mod fleetSize (the sender's round robin).
 */
export function deliveriesTo(total: number, fleetSize: number, from: number, to: number): number {
  const rounds = Math.floor(total / fleetSize);
  const rest = total - rounds * fleetSize;
  return rounds * (to - from) + Math.max(0, Math.min(to, rest) - from);
}

/** The earliest and the latest of hrtime marks (bigint ns, which Math.min and Math.max refuse). */
export function earliest(marks: readonly bigint[]): bigint {
  let out = marks[0]!;
  for (const m of marks) if (m < out) out = m;
  return out;
}

export function latest(marks: readonly bigint[]): bigint {
  let out = marks[0]!;
  for (const m of marks) if (m > out) out = m;
  return out;
}

/** What one receiving process answers: its Tracker's state over numbers base..base+total-1. */
export interface DeliveryPart {
  /** seen[i]: number base+i arrived here. */
  seen: Uint8Array;
  /** latencies[i]: its send-to-receive latency, ms (where seen[i]). */
  latencies: Float64Array;
  unique: number;
  duplicates: number;
  /** hrtime (ns) of this process's last unique delivery (0n when none). */
  tLast: bigint;
  /** This process's CPU over the exchange, % of one core. */
  cpu: number;
}

/** The deliveries of all of a role's processes. */
export interface FleetResult {
  unique: number;
  duplicates: number;
  /** hrtime (ns) of the last unique delivery (0n when none). */
  tLast: bigint;
  p50: number;
  p99: number;
  p999: number;
  /** CPU of each process, % of one core, in process order. */
  cpu: number[];
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * One result from the parts of several processes tracking the same numbers: a number seen by
 * several counts once (its first process's latency), the others as duplicates; percentiles over
 * every unique delivery's latency.
 */
export function mergeDeliveries(parts: readonly DeliveryPart[]): FleetResult {
  const total = parts[0]?.seen.length ?? 0;
  const latencies = new Float64Array(total);
  let unique = 0;
  let duplicates = 0;
  for (const p of parts) {
    if (p.seen.length !== total) throw new Error('mergeDeliveries: parts of different exchanges');
    duplicates += p.duplicates;
  }
  const tLast = latest([0n, ...parts.map((p) => p.tLast)]);
  for (let i = 0; i < total; i++) {
    let first = true;
    for (const p of parts) {
      if (!p.seen[i]) continue;
      if (first) latencies[unique++] = p.latencies[i]!;
      else duplicates++;
      first = false;
    }
  }
  const sorted = Array.from(latencies.subarray(0, unique).sort());
  return {
    unique,
    duplicates,
    tLast,
    p50: round2(percentile(sorted, 50)),
    p99: round2(percentile(sorted, 99)),
    p999: round2(percentile(sorted, 99.9)),
    cpu: parts.map((p) => p.cpu),
  };
}

/** What one sending process answers (send-tally.ts). */
export interface SendPart {
  t0: bigint;
  tSent: bigint;
  accepted: number;
  errors: number;
  firstError: string | undefined;
  /** CPU of this process meanwhile, % of one core. */
  cpu: number;
}

/** The sends of all of a role's processes: from the first one's start to the last one's end. */
export interface SendResult {
  t0: bigint;
  tSent: bigint;
  accepted: number;
  errors: number;
  firstError: string | undefined;
  /** CPU of each process, % of one core, in process order. */
  cpu: number[];
}

export function mergeSends(parts: readonly SendPart[]): SendResult {
  if (parts.length === 0) throw new Error('mergeSends: no parts');
  return {
    t0: earliest(parts.map((p) => p.t0)),
    tSent: latest(parts.map((p) => p.tSent)),
    accepted: parts.reduce((a, p) => a + p.accepted, 0),
    errors: parts.reduce((a, p) => a + p.errors, 0),
    firstError: parts.find((p) => p.firstError !== undefined)?.firstError,
    cpu: parts.map((p) => p.cpu),
  };
}
