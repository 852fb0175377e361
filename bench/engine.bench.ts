/**
 * Engine throughput on a durable SQLite store (file in a temp dir, WAL, synchronous=FULL):
 * N devices x M messages, each device working concurrently, one operation at a time:
 * send all, receive all (one lease each), complete all. Group commit turns the concurrent
 * operations into few transactions; the table shows how few. Then a paced run with every device
 * online (a receiver waiting in the engine, as MQTT connections wait), each message completed as
 * it arrives: the latency to the device (delivered) and to the sender's acceptance (accepted).
 *
 * Sizes: FERRY_BENCH_DEVICES (default 500), FERRY_BENCH_MESSAGES (default 20),
 * FERRY_STORE_URL (a postgres:// URL: the same on PostgreSQL, one process, a schema of its own
 * dropped at the end; the CPU column is then this process's only, not PostgreSQL's),
 * FERRY_BENCH_SYNC (FULL | NORMAL, default FULL), FERRY_BENCH_STORE_WORKER (1: SQLite in a worker
 * thread, WorkerStore; default 0), FERRY_BENCH_RATE (paced messages/s, default 5000),
 * FERRY_BENCH_PACED (paced messages, default 20000), FERRY_BENCH_HISTORY (0: no message history,
 * which is on by default as in the hub). The CPU column is this process's, all
 * threads; the paced rows share one transaction count and CPU figure (per message).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../packages/hub/src/clock.js';
import { Engine } from '../packages/hub/src/engine/engine.js';
import { PostgresStore } from '../packages/hub/src/store/postgres/postgres-store.js';
import { SqliteStore } from '../packages/hub/src/store/sqlite/sqlite-store.js';
import { WorkerStore } from '../packages/hub/src/store/sqlite/worker-store.js';
import { heartbeatAsNode } from './kit/node-heartbeat.js';
import { benchDevice, benchEngineConfig, envInt, type PhaseRow, phaseRow, since } from './stats.js';

export async function run(): Promise<void> {
  const devices = envInt('FERRY_BENCH_DEVICES', 500);
  const messages = envInt('FERRY_BENCH_MESSAGES', 20);
  const sync = process.env.FERRY_BENCH_SYNC === 'NORMAL' ? 'NORMAL' : 'FULL';
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
  const inWorker = process.env.FERRY_BENCH_STORE_WORKER === '1';
  const options = { path: join(dir, 'bench.db'), synchronous: sync } as const;
  const pgUrl = process.env.FERRY_STORE_URL;
  const pgSchema = `ferry_engine_bench_${process.pid}`;
  const store = pgUrl
    ? await PostgresStore.open({ url: pgUrl, schema: pgSchema })
    : inWorker
      ? await WorkerStore.open(options)
      : new SqliteStore(options);
  // As a hub's heartbeat would: the only node, so its leases take no row lock (lease-lock-sql.ts).
  if (store instanceof PostgresStore) await heartbeatAsNode(store, 'bench');
  const engine = new Engine({
    store,
    clock: systemClock,
    ...benchEngineConfig(messages, 60_000),
  });
  engine.start();
  try {
    const ids = Array.from({ length: devices }, (_, i) => `bench-${i}`);
    for (const deviceId of ids) {
      await store.insertDevice(benchDevice(deviceId));
    }
    const body = Buffer.alloc(256, 'x');
    const tokens = new Map<string, string[]>(ids.map((id) => [id, []]));
    const rows: PhaseRow[] = [];

    /** Runs `step` M times per device, devices concurrently, and records per-op latency. */
    async function phase(name: string, step: (deviceId: string, i: number) => Promise<void>): Promise<void> {
      const latencies: number[] = [];
      const before = store.commitCount;
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      await Promise.all(
        ids.map(async (deviceId) => {
          for (let i = 0; i < messages; i++) {
            const t = process.hrtime.bigint();
            await step(deviceId, i);
            latencies.push(since(t));
          }
        }),
      );
      rows.push(phaseRow(name, latencies, since(start), store.commitCount - before, process.cpuUsage(cpu)));
    }

    await phase('send', async (deviceId, i) => {
      await engine.send(deviceId, { body, messageId: `${deviceId}-${i}`, ack: 'none' });
    });
    await phase('receive', async (deviceId) => {
      const [d] = await engine.receive(deviceId, 1);
      if (!d) throw new Error(`bench: ${deviceId} had no message to receive`);
      tokens.get(deviceId)!.push(d.lockToken);
    });
    await phase('complete', async (deviceId, i) => {
      await engine.complete(deviceId, tokens.get(deviceId)![i]!);
    });

    // Paced, every device online (a receiver waiting in the engine, as an MQTT connection waits):
    // how long a message takes to reach its device, and how long its sender waits for the
    // acceptance, which also waits for the WAL sync.
    const rate = envInt('FERRY_BENCH_RATE', 5000);
    const pacedTotal = envInt('FERRY_BENCH_PACED', 20_000);
    {
      const sentAt = new Map<string, bigint>();
      const delivered: number[] = [];
      const accepted: number[] = [];
      let completed = 0;
      let failed: Error | undefined;
      let allDone!: () => void;
      const finished = new Promise<void>((resolve) => {
        allDone = resolve;
      });
      const receivers = ids.map((deviceId) => {
        const receiver = engine.openReceiver(deviceId, {
          onDeliveries: (deliveries) => {
            for (const d of deliveries) {
              delivered.push(since(sentAt.get(d.messageId ?? '')!));
              engine.complete(deviceId, d.lockToken).then(
                () => ++completed === pacedTotal && allDone(),
                (err: Error) => {
                  failed ??= err;
                  allDone();
                },
              );
            }
            receiver.want(10);
          },
          onError: (err) => {
            failed ??= err;
            allDone();
          },
        });
        receiver.want(10);
        return receiver;
      });
      const before = store.commitCount;
      const cpu = process.cpuUsage();
      const start = process.hrtime.bigint();
      let sent = 0;
      while (sent < pacedTotal && !failed) {
        const due = Math.min(pacedTotal, Math.floor((since(start) / 1000) * rate));
        for (; sent < due; sent++) {
          const deviceId = ids[sent % ids.length]!;
          const messageId = `paced-${sent}`;
          const t = process.hrtime.bigint();
          sentAt.set(messageId, t);
          engine.send(deviceId, { body, messageId, ack: 'none' }).then(
            () => accepted.push(since(t)),
            (err: Error) => {
              failed ??= err;
              allDone();
            },
          );
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await finished;
      for (const r of receivers) r.close();
      if (failed) throw failed;
      const wall = since(start);
      const transactions = store.commitCount - before;
      const used = process.cpuUsage(cpu);
      rows.push(phaseRow(`paced ${rate}/s: delivered`, delivered, wall, transactions, used));
      rows.push(phaseRow(`paced ${rate}/s: accepted`, accepted, wall, transactions));
    }

    console.log(
      `${devices} devices x ${messages} messages, 256-byte bodies, ` +
        (pgUrl
          ? `PostgreSQL (${new URL(pgUrl).host}, synchronous_commit as configured)`
          : `SQLite synchronous=${sync}, WAL${inWorker ? ', in a worker thread' : ''}`),
    );
    console.table(rows);
  } finally {
    await engine.stop();
    if (store instanceof PostgresStore) await store.pool.query(`DROP SCHEMA "${pgSchema}" CASCADE`);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
