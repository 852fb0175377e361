/**
 * The PostgreSQL store (issue 9): one node, and two nodes (separate processes) on one schema,
 * each message sent, received (one lease) and completed through the engine. Rows:
 *   1 node                 one process does everything
 *   2 nodes, split         each process does the whole cycle for half the devices, at once
 *   2 nodes, cross         node A sends everything, then node B receives and completes it
 * Throughput is messages per second over the run; CPU is per message: the hub processes'
 * (process.cpuUsage) and PostgreSQL's (every postgres process in /proc, so other work on the
 * machine shows up there too).
 *
 * What 2 cores can and cannot show: the hub processes and PostgreSQL share the same two cores, so
 * a second node cannot add throughput here; it only shows that two processes on one database stay
 * correct and what the database costs per message. Scaling out needs the nodes and PostgreSQL on
 * machines of their own.
 *
 * Sizes: FERRY_BENCH_DEVICES (default 200), FERRY_BENCH_MESSAGES (default 20). Database:
 * FERRY_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/test), a schema of its own,
 * dropped at the end.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PostgresStore } from '../packages/hub/src/store/postgres/postgres-store.js';
import type { NodeReport, NodeTask } from './postgres/node.js';
import { benchDevice, envInt } from './stats.js';

const NODE = fileURLToPath(new URL('./postgres/node.ts', import.meta.url));
const TICKS = 100; // USER_HZ: /proc/<pid>/stat times are in 1/100 s on Linux

/** CPU time of every postgres process so far, µs. */
function postgresCpuUs(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // the process went away meanwhile
    }
  }
  return (ticks / TICKS) * 1e6;
}

/** Starts the nodes, lets them go together, and returns their reports and the wall time. */
async function runNodes(tasks: NodeTask[]): Promise<{ reports: NodeReport[]; ms: number; pgUs: number }> {
  const children = tasks.map((t) =>
    spawn(process.execPath, ['--import', 'tsx', NODE, JSON.stringify(t)], { stdio: ['pipe', 'pipe', 'inherit'] }),
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
  const pg0 = postgresCpuUs();
  const start = process.hrtime.bigint();
  for (const c of children) c.stdin!.write('go\n');
  const reports = await Promise.all(lines.map(async (l) => JSON.parse(await l.line(1)) as NodeReport));
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const pgUs = postgresCpuUs() - pg0;
  for (const c of children) c.stdin!.end('bye\n');
  await Promise.all(lines.map((l) => l.exited));
  return { reports, ms, pgUs };
}

export async function run(): Promise<void> {
  const url = process.env.FERRY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const devices = envInt('FERRY_BENCH_DEVICES', 200);
  const messages = envInt('FERRY_BENCH_MESSAGES', 20);
  const half = Math.floor(devices / 2);
  const rows: Array<Record<string, string | number>> = [];
  const schemas: string[] = [];

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

  async function row(name: string, stages: NodeTask[][]): Promise<void> {
    let ms = 0;
    let pgUs = 0;
    const reports: NodeReport[] = [];
    for (const tasks of stages) {
      const r = await runNodes(tasks);
      ms += r.ms;
      pgUs += r.pgUs;
      reports.push(...r.reports);
    }
    const total = devices * messages;
    const hubUs = reports.reduce((s, r) => s + r.cpuUs, 0);
    const ops = reports.reduce((s, r) => s + r.ops, 0);
    const transactions = reports.reduce((s, r) => s + r.transactions, 0);
    rows.push({
      nodes: name,
      messages: total,
      'msgs/s': Math.round((total / ms) * 1000),
      'ops/transaction': Math.round((ops / Math.max(1, transactions)) * 10) / 10,
      'hub CPU µs/msg': Math.round(hubUs / total),
      'PostgreSQL CPU µs/msg': Math.round(pgUs / total),
    });
  }

  try {
    const task = (schema: string, from: number, to: number, phases: NodeTask['phases']): NodeTask => ({
      url,
      schema,
      devices: [from, to],
      messages,
      phases,
    });
    const all: NodeTask['phases'] = ['send', 'receive', 'complete'];
    let s = await fresh();
    await row('1 node', [[task(s, 0, devices, all)]]);
    s = await fresh();
    await row('2 nodes, split', [[task(s, 0, half, all), task(s, half, devices, all)]]);
    s = await fresh();
    await row('2 nodes, cross', [[task(s, 0, devices, ['send'])], [task(s, 0, devices, ['receive', 'complete'])]]);
    console.log(
      `${devices} devices x ${messages} messages, 256-byte bodies, PostgreSQL (synchronous_commit as configured)`,
    );
    console.table(rows);
    console.log(
      'A message is send + receive + complete (3 operations). On 2 cores the nodes and PostgreSQL share the CPU:',
    );
    console.log(
      'a second node cannot add throughput here; the rows show correctness under two processes and the cost.',
    );
  } finally {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}
