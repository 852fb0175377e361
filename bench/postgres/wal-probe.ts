/**
 * WAL and round trips per message of the PostgreSQL store's hot path, measured without load
 * noise: each group commit is first run inside a rolled-back transaction under
 * EXPLAIN (ANALYZE, WAL), whose WAL figures are this backend's own, then for real. Phases of
 * D devices x 1 message: send (one group), receive (non-direct leases, one group), complete (one
 * group); then direct delivery: a send group where every device has a waiting receiver (the
 * engine's enqueue + direct lease), and its completes.
 * The store heart-beats once, as a hub does, and finds itself the only node: its leases take no row
 * lock (lease-lock-sql.ts). SHARED=1 leases as when other nodes are live (FOR UPDATE SKIP LOCKED).
 * Run: node --import tsx bench/postgres/wal-probe.ts [devices]
 */

import pg from 'pg';
import { PostgresStore } from '../../packages/hub/src/store/postgres/postgres-store.js';
import type { QueueOp } from '../../packages/hub/src/store/types.js';
import { heartbeatAsNode } from '../kit/node-heartbeat.js';
import { benchDevice, probePolicy } from '../stats.js';

const url = process.env.FERRY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const devices = Number(process.argv[2] ?? 200);
const schema = `ferry_walprobe_${process.pid}`;
const store = await PostgresStore.open({ url, schema, poolSize: 1 });
const policy = probePolicy(1, 60_000);
const ids = Array.from({ length: devices }, (_, i) => `probe-${i}`);
for (const id of ids) await store.insertDevice(benchDevice(id));
await heartbeatAsNode(store, 'wal-probe');
if (process.env.SHARED === '1') store.othersLive = true;

// Every query of the pool goes through here: group commits are measured first.
let roundTrips = 0;
let wal = { records: 0, bytes: 0, fpi: 0, ms: 0 };
const pool = store.pool as unknown as { query: (...a: unknown[]) => Promise<unknown> };
const original = pool.query.bind(pool);
const probe = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
await probe.connect();
pool.query = async (config: unknown, values?: unknown) => {
  roundTrips++;
  const q = typeof config === 'string' ? { text: config, values } : (config as { text: string; values?: unknown[] });
  if (/ferry_commit/.test(q.text)) {
    await probe.query('BEGIN');
    const r = await probe.query<{ 'QUERY PLAN': Array<{ Plan: Record<string, number>; 'Execution Time': number }> }>(
      `EXPLAIN (ANALYZE, WAL, FORMAT JSON) ${q.text}`,
      q.values as unknown[],
    );
    await probe.query('ROLLBACK');
    const plan = r.rows[0]!['QUERY PLAN'][0]!;
    wal.records += plan.Plan['WAL Records'] ?? 0;
    wal.bytes += plan.Plan['WAL Bytes'] ?? 0;
    wal.fpi += plan.Plan['WAL FPI'] ?? 0;
    wal.ms += plan['Execution Time'];
  }
  return original(config as never, values as never);
};

const rows: Record<string, Record<string, number>> = {};
async function phase(name: string, ops: QueueOp[]) {
  wal = { records: 0, bytes: 0, fpi: 0, ms: 0 };
  roundTrips = 0;
  const r = await store.commit(ops, Date.now(), policy);
  const bad = r.results.filter((x) => !x.ok);
  if (bad.length) throw new Error(`${name}: ${JSON.stringify(bad[0])}`);
  rows[name] = {
    'WAL bytes/msg': Math.round(wal.bytes / devices),
    'WAL records/msg': Math.round((wal.records / devices) * 10) / 10,
    FPI: wal.fpi,
    'round trips/msg': Math.round((roundTrips / devices) * 1000) / 1000,
    'server ms/msg (noisy)': Math.round((wal.ms / devices) * 1000) / 1000,
  };
  return r;
}
const body = Buffer.alloc(256, 'x');
const enqueue = (id: string, i: number): QueueOp => ({
  kind: 'enqueue',
  message: { deviceId: id, messageId: `${id}-${i}`, body, properties: {}, expiryTimeUtc: Date.now() + 3_600_000 },
});
try {
  // Warm up (plans, sequences, first page writes), then measure.
  for (let round = 0; round < 2; round++) {
    await phase(
      'send',
      ids.map((id) => enqueue(id, round)),
    );
    const leased = await phase(
      'receive',
      ids.map((id) => ({ kind: 'lease', deviceId: id, max: 1 }) as QueueOp),
    );
    const tokens = leased.results.map(
      (x) => (x as { deliveries: Array<{ lockToken: string }> }).deliveries[0]!.lockToken,
    );
    await phase(
      'complete',
      ids.map((id, i) => ({ kind: 'settle', deviceId: id, lockToken: tokens[i]!, action: 'complete' }) as QueueOp),
    );
    const direct = await phase('send + direct lease', [
      ...ids.map((id) => enqueue(id, 100 + round)),
      ...ids.map((id) => ({ kind: 'lease', deviceId: id, max: 10, direct: true }) as QueueOp),
    ]);
    const dt = direct.results
      .slice(devices)
      .map((x) => (x as { deliveries: Array<{ lockToken: string }> }).deliveries[0]!.lockToken);
    await phase(
      'complete (direct)',
      ids.map((id, i) => ({ kind: 'settle', deviceId: id, lockToken: dt[i]!, action: 'complete' }) as QueueOp),
    );
  }
  console.log(
    `${devices} devices, one message each per group, 256-byte bodies; leases ${store.othersLive ? 'lock their rows (other nodes live)' : 'take no row lock (the only node)'}`,
  );
  console.table(rows);
  const total = (k: string) => ['send', 'receive', 'complete'].reduce((s, p) => s + rows[p]![k]!, 0);
  const totalDirect = (k: string) => ['send + direct lease', 'complete (direct)'].reduce((s, p) => s + rows[p]![k]!, 0);
  console.log(
    `per message (send+lease+complete): WAL ${total('WAL bytes/msg')} B; direct path: ${totalDirect('WAL bytes/msg')} B`,
  );
} finally {
  await probe.query(`DROP SCHEMA "${schema}" CASCADE`);
  await probe.end();
  await store.close();
}
