/**
 * The PostgreSQL store (issues 9, 28): Ferry on PostgreSQL, one node and two nodes (separate
 * processes) on one schema, each message sent, received (one lease) and completed through the
 * engine; beside it, in the same run, an anchor and Ferry on SQLite. Rows:
 *   Ferry PG, 1 node            one process does everything
 *   Ferry PG, 2 nodes, split    each process does the whole cycle for half the devices, at once
 *   Ferry PG, 2 nodes, cross    node A sends everything, then node B receives and completes it
 *   graphile-worker             the same number of empty jobs added (addJobs, in groups of as
 *                               many as Ferry has devices) and completed by one worker with its
 *                               batching on (local queue, batched completes), in its own schema
 *   Ferry SQLite, 1 node        the first row's work on SQLite (synchronous=FULL, a temp file)
 * Throughput is messages (or jobs) per second over the run; CPU is per message: the hub
 * processes' (process.cpuUsage) and PostgreSQL's (every postgres process in /proc, so other work
 * on the machine shows up there too); WAL is PostgreSQL's WAL bytes written over the row
 * (pg_current_wal_insert_lsn, server-wide: run it on a quiet server). After the table, each
 * PostgreSQL row's costliest statements from pg_stat_statements (calls, time, rows, WAL per call
 * and per message; postgres/statements.ts), or one line on how to enable it when it is not loaded.
 *
 * What 2 cores can and cannot show: the hub processes and PostgreSQL share the same two cores, so
 * a second node cannot add throughput here; it only shows that two processes on one database stay
 * correct and what the database costs per message. Scaling out needs the nodes and PostgreSQL on
 * machines of their own.
 *
 * Sizes: FERRY_BENCH_DEVICES (default 200), FERRY_BENCH_MESSAGES (default 20). Database:
 * FERRY_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test), schemas of its own,
 * dropped at the end.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgresStore } from '../packages/hub/src/store/postgres/postgres-store.js';
import { postgresCpuUs } from './peer/proc.js';
import type { NodeReport } from './postgres/child.js';
import type { GraphileTask } from './postgres/graphile-node.js';
import type { NodeTask } from './postgres/node.js';
import { ENABLE_HINT, type StatementStats, statementStats } from './postgres/statements.js';
import { benchDevice, envInt } from './stats.js';

const NODE = fileURLToPath(new URL('./postgres/node.ts', import.meta.url));
const GRAPHILE = fileURLToPath(new URL('./postgres/graphile-node.ts', import.meta.url));
/** A child process: bench/postgres/node.ts (a Ferry node) or graphile-node.ts (the anchor). */
interface Child {
  script: string;
  task: NodeTask | GraphileTask;
}

interface Run {
  reports: NodeReport[];
  ms: number;
  pgUs: number;
  walBytes: number;
}

/** Starts the nodes, lets them go together, and returns their reports and the wall time. */
async function runNodes(tasks: Child[], wal: () => Promise<number>): Promise<Run> {
  const children = tasks.map((t) =>
    spawn(process.execPath, ['--import', 'tsx', t.script, JSON.stringify(t.task)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const lines = children.map((c) => {
    const out: string[] = [];
    let buf = '';
    const waiters: Array<() => void> = [];
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        out.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
        for (const w of waiters.splice(0)) w();
      }
    });
    const exited = new Promise<number | null>((resolve) => c.once('exit', resolve));
    return {
      exited,
      async line(n: number): Promise<string> {
        while (out.length <= n) {
          const more = new Promise<void>((resolve) => waiters.push(resolve));
          const code = await Promise.race([more.then(() => undefined), exited]);
          if (code !== undefined && out.length <= n) throw new Error(`bench node exited with ${code}`);
        }
        return out[n]!;
      },
    };
  });
  for (const l of lines) await l.line(0); // ready
  const wal0 = await wal();
  const pg0 = postgresCpuUs();
  const start = process.hrtime.bigint();
  for (const c of children) c.stdin!.write('go\n');
  const reports = await Promise.all(lines.map(async (l) => JSON.parse(await l.line(1)) as NodeReport));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const pgUs = postgresCpuUs() - pg0;
  const walBytes = (await wal()) - wal0;
  for (const c of children) c.stdin!.end('bye\n');
  await Promise.all(lines.map((l) => l.exited));
  return { reports, ms, pgUs, walBytes };
}

/** The costliest statements of each PostgreSQL row (pg_stat_statements, postgres/statements.ts). */
const STATEMENTS_SHOWN = 8;

function printStatements(
  statements: StatementStats | undefined,
  tables: Array<{ name: string; top: Array<Record<string, string | number>> }>,
): void {
  if (!statements) {
    console.log(ENABLE_HINT);
    return;
  }
  for (const t of tables) {
    console.log(`\n${t.name}: the ${STATEMENTS_SHOWN} costliest statements (pg_stat_statements, server-wide)`);
    console.table(t.top);
  }
}

export async function run(): Promise<void> {
  const url = process.env.FERRY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const devices = envInt('FERRY_BENCH_DEVICES', 200);
  const messages = envInt('FERRY_BENCH_MESSAGES', 20);
  const half = Math.floor(devices / 2);
  const total = devices * messages;
  const rows: Array<Record<string, string | number>> = [];
  const schemas: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-pg-'));
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const statements = await statementStats(admin);
  const statementTables: Array<{ name: string; top: Array<Record<string, string | number>> }> = [];
  const wal = async () => {
    const r = await admin.query<{ n: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0') AS n");
    return Number(r.rows[0]!.n);
  };

  async function fresh(): Promise<string> {
    const schema = `ferry_bench_${process.pid}_${schemas.length}`;
    schemas.push(schema);
    const store = await PostgresStore.open({ url, schema, poolSize: 1 });
    for (let i = 0; i < devices; i++) {
      await store.insertDevice(benchDevice(`bench-${i}`));
    }
    await store.close();
    return schema;
  }

  async function row(name: string, stages: Child[][]): Promise<void> {
    let ms = 0;
    let pgUs = 0;
    let walBytes = 0;
    const reports: NodeReport[] = [];
    await statements?.reset();
    for (const tasks of stages) {
      const r = await runNodes(tasks, wal);
      ms += r.ms;
      pgUs += r.pgUs;
      walBytes += r.walBytes;
      reports.push(...r.reports);
    }
    const hubUs = reports.reduce((s, r) => s + r.cpuUs, 0);
    const ops = reports.reduce((s, r) => s + r.ops, 0);
    const transactions = reports.reduce((s, r) => s + r.transactions, 0);
    const sqlite = name.includes('SQLite');
    if (statements && !sqlite) statementTables.push({ name, top: await statements.top(total, STATEMENTS_SHOWN) });
    rows.push({
      row: name,
      messages: total,
      'msgs/s': Math.round((total / ms) * 1000),
      'ops/transaction': transactions > 0 ? Math.round((ops / transactions) * 10) / 10 : '-',
      'hub CPU µs/msg': Math.round(hubUs / total),
      'PostgreSQL CPU µs/msg': sqlite ? '-' : Math.round(pgUs / total),
      'WAL bytes/msg': sqlite ? '-' : Math.round(walBytes / total),
    });
  }

  try {
    const node = (task: NodeTask): Child => ({ script: NODE, task });
    const pgTask = (schema: string, from: number, to: number, phases: NodeTask['phases']) =>
      node({ url, schema, devices: [from, to], messages, phases });
    const all: NodeTask['phases'] = ['send', 'receive', 'complete'];
    let s = await fresh();
    await row('Ferry PG, 1 node', [[pgTask(s, 0, devices, all)]]);
    s = await fresh();
    await row('Ferry PG, 2 nodes, split', [[pgTask(s, 0, half, all), pgTask(s, half, devices, all)]]);
    s = await fresh();
    await row('Ferry PG, 2 nodes, cross', [
      [pgTask(s, 0, devices, ['send'])],
      [pgTask(s, 0, devices, ['receive', 'complete'])],
    ]);
    const gw = `graphile_bench_${process.pid}`;
    schemas.push(gw);
    const graphile: GraphileTask = { url, schema: gw, jobs: total, addBatch: devices, concurrency: 10 };
    await row('graphile-worker 0.17', [[{ script: GRAPHILE, task: graphile }]]);
    await row('Ferry SQLite, 1 node', [
      [node({ sqlite: join(dir, 'bench.db'), devices: [0, devices], messages, phases: all })],
    ]);
    console.log(
      `${devices} devices x ${messages} messages, 256-byte bodies, PostgreSQL (synchronous_commit as configured); ` +
        `graphile-worker: ${total} empty jobs`,
    );
    console.table(rows);
    console.log(
      'A message is send + receive + complete (3 operations), a job add + run + complete. On 2 cores the nodes and',
    );
    console.log(
      'PostgreSQL share the CPU: a second node cannot add throughput here; the rows show correctness and the cost.',
    );
    printStatements(statements, statementTables);
  } finally {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}
