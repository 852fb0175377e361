/**
 * What each statement of the PostgreSQL hot path costs as queues get deeper, without the engine:
 * D devices x M messages sent (one group of D sends per round), then leased one per device per
 * group (the engine bench's receive phase: the queue's head is locked, its tail Enqueued), then
 * completed. Read the costs from pg_stat_statements (reset it first), or set EXPLAIN=send|lease to
 * print the plans (auto_explain: ANALYZE, BUFFERS) of the last send group, of the last lease
 * group of a run stopped after L lease rounds, or (EXPLAIN=complete) of the middle complete group.
 * Run: node --import tsx bench/postgres/lease-probe.ts [devices=200] [messages=100] [leaseRounds=messages]
 * The schema (ferry_lease_probe_<pid>) is dropped at the end, unless KEEP is set (to EXPLAIN by hand).
 */
import type pg from 'pg';
import { PostgresStore } from '../../packages/hub/src/store/postgres/postgres-store.js';
import type { QueueOp } from '../../packages/hub/src/store/types.js';
import { benchDevice, probePolicy } from '../stats.js';

const url = process.env.FERRY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const devices = Number(process.argv[2] ?? 200);
const messages = Number(process.argv[3] ?? 100);
const leaseRounds = Number(process.argv[4] ?? messages);
const explain = process.env.EXPLAIN;
const schema = `ferry_lease_probe_${process.pid}`;
// one connection, so the session settings of auto_explain apply to every group
const store = await PostgresStore.open({ url, schema, poolSize: 1 });
const policy = probePolicy(messages, 600_000);
const ids = Array.from({ length: devices }, (_, i) => `probe-${i}`);
const body = Buffer.alloc(256, 'x');

/** Turns auto_explain on (plans as NOTICEs, printed) or off for the store's one connection. */
async function explainNext(on: boolean): Promise<void> {
  const client: pg.PoolClient = await store.pool.connect();
  try {
    if (on) {
      client.on('notice', (n) => console.log(n.message));
      await client.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;
        SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on;
        SET auto_explain.log_nested_statements = on; SET auto_explain.log_level = notice`);
    } else await client.query(`SET auto_explain.log_min_duration = -1`).catch(() => {});
  } finally {
    client.release();
  }
}

async function group(ops: QueueOp[]) {
  const r = await store.commit(ops, Date.now(), policy);
  const bad = r.results.find((x) => !x.ok);
  if (bad) throw new Error(JSON.stringify(bad));
  return r.results;
}

try {
  for (const id of ids) await store.insertDevice(benchDevice(id));
  const t0 = Date.now();
  for (let i = 0; i < messages; i++) {
    if (explain === 'send' && i === messages - 1) await explainNext(true);
    await group(
      ids.map((id) => ({
        kind: 'enqueue',
        message: { deviceId: id, messageId: `${id}-${i}`, body, properties: {}, expiryTimeUtc: Date.now() + 3_600_000 },
      })),
    );
  }
  await explainNext(false);
  const t1 = Date.now();
  const tokens: string[][] = ids.map(() => []);
  for (let i = 0; i < leaseRounds; i++) {
    if (explain === 'lease' && i === leaseRounds - 1) await explainNext(true);
    const results = await group(ids.map((id) => ({ kind: 'lease', deviceId: id, max: 1 })));
    for (const [k, x] of results.entries()) {
      tokens[k]!.push((x as { deliveries: Array<{ lockToken: string }> }).deliveries[0]!.lockToken);
    }
  }
  await explainNext(false);
  const t2 = Date.now();
  if (leaseRounds === messages) {
    for (let i = 0; i < messages; i++) {
      const middle = Math.floor(messages / 2);
      if (explain === 'complete' && (i === middle || i === middle + 1)) await explainNext(i === middle);
      await group(
        ids.map((id, k) => ({ kind: 'settle', deviceId: id, lockToken: tokens[k]![i]!, action: 'complete' })),
      );
    }
  }
  console.log(
    `${devices} x ${messages}: send ${t1 - t0} ms, lease ${t2 - t1} ms, complete ${Date.now() - t2} ms (wall, noisy)`,
  );
} finally {
  if (process.env.KEEP) console.log(`kept schema ${schema}`);
  else await store.pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await store.close();
}
