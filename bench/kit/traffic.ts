/**
 * C2D traffic bookkeeping on the load side. Each body carries its send time (hrtime ns) and its
 * message number, so a receiver computes the send->receive latency and spots duplicates without
 * any lookup shared with the sender.
 */
import { type LatencySummary, summarize } from './measure.js';

/** A body of `bytes` (at least 12): hrtime ns of the send, then the message number. */
export function stampedBody(bytes: number, n: number): Buffer {
  const body = Buffer.alloc(Math.max(12, bytes), 0x78);
  body.writeBigUInt64BE(process.hrtime.bigint(), 0);
  body.writeUInt32BE(n, 8);
  return body;
}

/** A connect phase, as the load process saw it. */
export interface ConnectResult {
  t0: bigint;
  t1: bigint;
  latency: LatencySummary;
  /** CPU of the load process meanwhile, % of one core. */
  cpu: number;
}

export interface TrafficResult {
  /** hrtime (ns) of the first send, of the last accept, of the last unique delivery. */
  t0: bigint;
  tSent: bigint;
  tReceived: bigint;
  accept: LatencySummary;
  endToEnd: LatencySummary;
  duplicates: number;
  sendErrors: number;
  firstSendError: string | undefined;
  /** CPU of the load process during the traffic, % of one core. */
  cpu: number;
}

/** Counts unique deliveries of messages 0..total-1 and resolves when all have arrived. */
export class Deliveries {
  private readonly seen: Uint8Array;
  private unique = 0;
  private dups = 0;
  private last = 0n;
  private readonly latencies: number[] = [];
  private resolveAll!: () => void;
  readonly all: Promise<void>;

  constructor(readonly total: number) {
    this.seen = new Uint8Array(total);
    this.all = new Promise((r) => {
      this.resolveAll = r;
    });
    if (total === 0) this.resolveAll();
  }

  /** Records one received body (as made by stampedBody). */
  record(body: Buffer): void {
    const now = process.hrtime.bigint();
    const n = body.length >= 12 ? body.readUInt32BE(8) : -1;
    if (n < 0 || n >= this.total) return;
    if (this.seen[n]) {
      this.dups++;
      return;
    }
    this.seen[n] = 1;
    this.latencies.push(Number(now - body.readBigUInt64BE(0)) / 1e6);
    this.last = now;
    if (++this.unique === this.total) this.resolveAll();
  }

  get count(): number {
    return this.unique;
  }

  get duplicates(): number {
    return this.dups;
  }

  get lastAt(): bigint {
    return this.last;
  }

  summary(): LatencySummary {
    return summarize(this.latencies);
  }

  /** Resolves when all arrived; rejects after `timeoutMs` saying how many did. */
  async wait(timeoutMs: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: ${this.unique} of ${this.total} delivered after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.all, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What sendAll measured. */
export interface SendOutcome {
  t0: bigint;
  tSent: bigint;
  accept: LatencySummary;
  errors: number;
  firstError: string | undefined;
}

/** A phase's TrafficResult from its sends and, when devices received, their deliveries. */
export function trafficResult(sent: SendOutcome, deliveries: Deliveries | undefined, cpu: number): TrafficResult {
  return {
    t0: sent.t0,
    tSent: sent.tSent,
    tReceived: deliveries?.lastAt ?? sent.tSent,
    accept: sent.accept,
    endToEnd: deliveries?.summary() ?? summarize([]),
    duplicates: deliveries?.duplicates ?? 0,
    sendErrors: sent.errors,
    firstSendError: sent.firstError,
    cpu,
  };
}

/**
 * Sends message numbers 0..total-1 (`target(n)` says to which device) through `send`, with at
 * most `inflight` awaiting their accept, in number order; records each accept latency.
 */
export async function sendAll(
  total: number,
  inflight: number,
  bodyBytes: number,
  send: (n: number, body: Buffer) => Promise<void>,
): Promise<SendOutcome> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = process.hrtime.bigint();
  const lane = async () => {
    while (next < total) {
      const n = next++;
      const body = stampedBody(bodyBytes, n);
      const t = process.hrtime.bigint();
      try {
        await send(n, body);
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inflight, total) }, lane));
  return { t0, tSent: process.hrtime.bigint(), accept: summarize(latencies), errors, firstError };
}
