/** Memory snapshots, latency summaries and bounded waits for the end-to-end benchmarks. */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { percentile } from '../stats.js';

// A full GC before each snapshot makes "before" and "after" comparable; `node --expose-gc`
// is not on the npm script's command line, so switch it on here.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface MemorySnapshot {
  /** Resident set of the whole process (hub thread + load worker). */
  rss: number;
  /** V8 heap in use by the calling thread only (the hub's, when called on the main thread). */
  heapUsed: number;
  /** Memory outside the V8 heap held by this thread's JS objects (Buffers, TLS, SQLite handles). */
  external: number;
}

export function memory(): MemorySnapshot {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}

export function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

/** Bytes per item of a growth, rounded to the nearest 100 B (smaller is noise). */
export function perItem(before: number, after: number, items: number): number {
  return Math.round((after - before) / Math.max(1, items) / 100) * 100;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function summarize(latenciesMs: number[]): LatencySummary {
  const sorted = Float64Array.from(latenciesMs).sort();
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    count: sorted.length,
    p50: r(percentile(Array.from(sorted), 50)),
    p99: r(percentile(Array.from(sorted), 99)),
    max: r(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
  };
}

/** Per second, from a count and a span in milliseconds. */
export function rate(count: number, ms: number): number {
  return ms > 0 ? Math.round((count * 1000) / ms) : Number.NaN;
}

/**
 * Polls `probe` until it reaches `target`; resolves with the hrtime (ns) of the first poll that saw
 * it. Polls every millisecond or two, so the moment is that precise. Fails after `timeoutMs`.
 */
export async function reached(
  probe: () => Promise<number>,
  target: number,
  timeoutMs: number,
  what: string,
): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await probe();
    if (n >= target) return process.hrtime.bigint();
    if (Date.now() > deadline) throw new Error(`bench: ${what}: ${n} of ${target} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Milliseconds between two hrtime marks (ns, bigint); valid across threads (one monotonic clock). */
export function spanMs(from: bigint, to: bigint): number {
  return Number(to - from) / 1e6;
}

export interface CpuMark {
  at: bigint;
  usage: NodeJS.CpuUsage;
}

export function cpuMark(): CpuMark {
  return { at: process.hrtime.bigint(), usage: process.cpuUsage() };
}

/** CPU this process used since `mark`, in % of one core (user + system; 200 = two cores busy). */
export function cpuPercent(mark: CpuMark): number {
  const used = process.cpuUsage(mark.usage);
  const wallUs = Number(process.hrtime.bigint() - mark.at) / 1e3;
  return Math.round(((used.user + used.system) / Math.max(1, wallUs)) * 100);
}
