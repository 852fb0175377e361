/** Small helpers shared by the benchmarks: timing, percentiles, env sizes. */
import { DEFAULT_CONFIG } from '../packages/hub/src/config/defaults.js';
import type { C2dConfig, FeedbackConfig } from '../packages/hub/src/config/types.js';
import { queuePolicyOf } from '../packages/hub/src/engine/queue-policy.js';
import type { DeviceRecord, QueuePolicy } from '../packages/hub/src/store/types.js';

/** A whole number from the environment; `zero`: 0 is allowed too. */
export function envInt(name: string, fallback: number, { zero = false } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < (zero ? 0 : 1)) {
    throw new Error(`${name} must be a ${zero ? 'whole number (0 or more)' : 'positive integer'}, got "${raw}"`);
  }
  return n;
}

/** Milliseconds from a high-resolution start mark. */
export function since(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface PhaseRow {
  op: string;
  ops: number;
  'ops/s': number;
  'p50 ms': number;
  'p99 ms': number;
  transactions: number;
  'ops/transaction': number;
  /** CPU time of this process (all threads) per op, in microseconds. */
  'CPU µs/op'?: number;
}

export function phaseRow(
  op: string,
  latencies: number[],
  wallMs: number,
  transactions: number,
  cpu?: NodeJS.CpuUsage,
): PhaseRow {
  const sorted = [...latencies].sort((a, b) => a - b);
  const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    op,
    ops: latencies.length,
    'ops/s': Math.round((latencies.length / wallMs) * 1000),
    'p50 ms': round(percentile(sorted, 50)),
    'p99 ms': round(percentile(sorted, 99)),
    transactions,
    'ops/transaction': round(latencies.length / Math.max(1, transactions), 1),
    ...(cpu && { 'CPU µs/op': round((cpu.user + cpu.system) / Math.max(1, latencies.length), 1) }),
  };
}

/** A plain enabled SAS device row, for benches that fill a store directly. */
export function benchDevice(deviceId: string): DeviceRecord {
  return {
    deviceId,
    generationId: '1',
    etag: 'e',
    status: 'enabled',
    statusReason: null,
    statusUpdatedTime: new Date().toISOString(),
    authType: 'sas',
    primaryKey: null,
    secondaryKey: null,
    primaryThumbprint: null,
    secondaryThumbprint: null,
    iotEdge: false,
  };
}

/**
 * The engine settings of the engine-level benches (engine, postgres): the hub's defaults, with
 * queues deep enough for `messages` per device and the lock timeout given.
 */
export function benchEngineConfig(
  messages: number,
  lockTimeoutMs: number,
): { c2d: C2dConfig; feedback: FeedbackConfig } {
  const { c2d, feedback } = DEFAULT_CONFIG;
  return {
    c2d: {
      ...c2d,
      lockTimeoutMs,
      maxQueueDepth: Math.max(c2d.maxQueueDepth, messages),
      // FERRY_BENCH_HISTORY=0: no message history (docs/message-history.md), to see what it costs.
      ...(process.env.FERRY_BENCH_HISTORY === '0' && { historyRetentionMs: 0 }),
    },
    feedback: { ...feedback },
  };
}

/**
 * The store probes' policy (bench/postgres/lease-probe.ts and wal-probe.ts, bench/sqlite/wal-probe.ts):
 * the engine's for benchEngineConfig(messages, lockTimeoutMs) (history as the hub's by default;
 * FERRY_BENCH_HISTORY=0: none), without lock expiry or dead letters, so only the probe's own ops
 * change its rows.
 */
export function probePolicy(messages: number, lockTimeoutMs: number): QueuePolicy {
  const { c2d, feedback } = benchEngineConfig(messages, lockTimeoutMs);
  return { ...queuePolicyOf(c2d, feedback), countLockExpiry: false, deadLetters: { retentionMs: 0, maxPerDevice: 0 } };
}
