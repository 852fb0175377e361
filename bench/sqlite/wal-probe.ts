/**
 * Statements and WAL per message of the SQLite store's hot path, without load noise: a SqliteStore
 * on a file (synchronous FULL, checkpoints held off so the WAL only grows), D devices x 1 message
 * per group commit, as in bench/postgres/wal-probe.ts: send, receive (non-direct leases),
 * complete; then the fan-out's path: a send group where every device has a waiting receiver (the
 * engine's enqueue + direct lease), and its completes. Statements are the prepared statements
 * better-sqlite3 runs (BEGIN and COMMIT included); WAL is the growth of the -wal file (whole 4 KiB
 * pages plus a 24-byte frame header each, as SQLite writes them), so it depends on how many
 * messages share a page: compare runs with the same D and rounds (FERRY_PROBE_ROUNDS, default 3; each
 * round adds 2 D copies to the history). FERRY_PROBE_STATEMENTS=1 lists the statements of each phase.
 * Run: node --import tsx bench/sqlite/wal-probe.ts [devices] [history retention ms, 0 = off]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../packages/hub/src/store/sqlite/sqlite-store.js';
import type { QueueOp, QueuePolicy } from '../../packages/hub/src/store/types.js';
import { benchDevice, probePolicy } from '../stats.js';

const devices = Number(process.argv[2] ?? 200);
/** Rounds of all phases; the mean of all but the first is reported. More rounds, a bigger history table. */
const rounds = Number(process.env.FERRY_PROBE_ROUNDS ?? 3);
const engine = probePolicy(1, 60_000);
// History retention as the hub's by default (docs/message-history.md), or the second argument.
const policy: QueuePolicy = {
  ...engine,
  history: { retentionMs: Number(process.argv[3] ?? engine.history.retentionMs) },
};
const dir = mkdtempSync(join(tmpdir(), 'ferry-walprobe-'));
const path = join(dir, 'probe.db');
const store = new SqliteStore({ path, checkpointThread: false });
// No checkpoint at all (the default would run one every 1000 pages and rewind the WAL).
const db = (store as unknown as { db: Database.Database }).db;
db.pragma('wal_autocheckpoint = 0');
// Settings to try, e.g. FERRY_PROBE_PRAGMAS='cache_size = -65536; mmap_size = 268435456'.
for (const p of (process.env.FERRY_PROBE_PRAGMAS ?? '').split(';').filter((p) => p.trim())) db.pragma(p.trim());
const ids = Array.from({ length: devices }, (_, i) => `probe-${i}`);
for (const id of ids) await store.insertDevice(benchDevice(id));

// Every statement the store runs goes through these (one Statement class per better-sqlite3).
let statements = 0;
/** Runs per statement text of the phase (printed with FERRY_PROBE_STATEMENTS=1). */
const bySql = new Map<string, number>();
const scratch = new Database(':memory:');
const proto = Object.getPrototypeOf(scratch.prepare('SELECT 1')) as Record<string, (...a: unknown[]) => unknown>;
scratch.close();
for (const method of ['run', 'get', 'all', 'iterate']) {
  const original = proto[method]!;
  proto[method] = function (this: unknown, ...args: unknown[]) {
    statements++;
    const sql = (this as { source: string }).source;
    bySql.set(sql, (bySql.get(sql) ?? 0) + 1);
    return original.apply(this, args);
  };
}
const walBytes = () => statSync(`${path}-wal`).size;

const rows: Record<string, Record<string, number>> = {};
/** Sums of each phase over the measured rounds (all but the first). */
const sums = new Map<string, { statements: number; bytes: number; cpu: number; rounds: number }>();
let measuring = false;
async function phase(name: string, ops: QueueOp[]) {
  statements = 0;
  bySql.clear();
  const before = walBytes();
  const cpu = process.cpuUsage();
  const r = await store.commit(ops, Date.now(), policy);
  const used = process.cpuUsage(cpu);
  const bad = r.results.filter((x) => !x.ok);
  if (bad.length) throw new Error(`${name}: ${JSON.stringify(bad[0])}`);
  const bytes = walBytes() - before;
  if (bytes < 0) throw new Error('the WAL was rewound during the probe');
  if (process.env.FERRY_PROBE_STATEMENTS === '1') {
    console.log(
      name,
      [...bySql].map(([sql, n]) => `${n} x ${sql.replace(/\s+/g, ' ').slice(0, 100)}`),
    );
  }
  if (!measuring) return r;
  const sum = sums.get(name) ?? { statements: 0, bytes: 0, cpu: 0, rounds: 0 };
  sums.set(name, sum);
  sum.statements += statements;
  sum.bytes += bytes;
  sum.cpu += used.user + used.system;
  sum.rounds++;
  const n = devices * sum.rounds;
  rows[name] = {
    'statements/msg': Math.round((sum.statements / n) * 100) / 100,
    'WAL bytes/msg': Math.round(sum.bytes / n),
    'WAL pages/group': Math.round(sum.bytes / 4120 / sum.rounds),
    'CPU µs/msg (noisy)': Math.round(sum.cpu / n),
  };
  return r;
}
const body = Buffer.alloc(64, 'x');
const enqueue = (id: string, i: number): QueueOp => ({
  kind: 'enqueue',
  message: { deviceId: id, messageId: `${id}-${i}`, body, properties: {}, expiryTimeUtc: Date.now() + 3_600_000 },
  origin: { policy: 'service' },
});
const tokensOf = (results: unknown[]) =>
  results.map((x) => (x as { deliveries: Array<{ lockToken: string }> }).deliveries[0]!.lockToken);
try {
  // Warm up (sequence number blocks, first page writes), then measure the mean of the other rounds.
  for (let round = 0; round < rounds; round++) {
    measuring = round > 0;
    await phase(
      'send',
      ids.map((id) => enqueue(id, round)),
    );
    const leased = await phase(
      'receive',
      ids.map((id) => ({ kind: 'lease', deviceId: id, max: 1, protocol: 'mqtt' }) as QueueOp),
    );
    const tokens = tokensOf(leased.results);
    await phase(
      'complete',
      ids.map((id, i) => ({ kind: 'settle', deviceId: id, lockToken: tokens[i]!, action: 'complete' }) as QueueOp),
    );
    const direct = await phase('send + direct lease', [
      ...ids.map((id) => enqueue(id, 100 + round)),
      ...ids.map((id) => ({ kind: 'lease', deviceId: id, max: 10, direct: true, protocol: 'mqtt' }) as QueueOp),
    ]);
    const dt = tokensOf(direct.results.slice(devices));
    await phase(
      'complete (direct)',
      ids.map((id, i) => ({ kind: 'settle', deviceId: id, lockToken: dt[i]!, action: 'complete' }) as QueueOp),
    );
  }
  console.log(
    `${devices} devices, one message each per group, 64-byte bodies, history retention ${policy.history.retentionMs} ms,` +
      ` mean of rounds 2-${rounds}`,
  );
  console.table(rows);
  const sum = (phases: string[], k: string) => Math.round(phases.reduce((s, p) => s + rows[p]![k]!, 0) * 100) / 100;
  const plain = ['send', 'receive', 'complete'];
  const direct = ['send + direct lease', 'complete (direct)'];
  console.log(
    `per message, send+lease+complete: ${sum(plain, 'statements/msg')} statements, WAL ${sum(plain, 'WAL bytes/msg')} B;` +
      ` direct (the fan-out): ${sum(direct, 'statements/msg')} statements, WAL ${sum(direct, 'WAL bytes/msg')} B`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
