/**
 * One hub node for the PostgreSQL bench, as its own process: an Engine on a PostgresStore with the
 * LISTEN/NOTIFY bus, or on a SqliteStore (the same hub on SQLite, for the side-by-side row). It
 * works on a range of devices and reports what it measured (child.ts).
 * Argument (JSON): { url | sqlite, schema, devices: [from, to), messages, phases: ["send" | "receive" | "complete"] }.
 */

import pino from 'pino';
import { systemClock } from '../../packages/hub/src/clock.js';
import { PostgresSignalBus } from '../../packages/hub/src/cluster/postgres-signal-bus.js';
import { Engine } from '../../packages/hub/src/engine/engine.js';
import { PostgresStore } from '../../packages/hub/src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../packages/hub/src/store/sqlite/sqlite-store.js';
import { heartbeatAsNode } from '../kit/node-heartbeat.js';
import { benchDevice, benchEngineConfig } from '../stats.js';
import { childRun } from './child.js';

export interface NodeTask {
  /** PostgreSQL (a postgres:// URL and a schema) or, with `sqlite`, the path of a SQLite file. */
  url?: string;
  schema?: string;
  sqlite?: string;
  devices: [number, number];
  messages: number;
  phases: Array<'send' | 'receive' | 'complete'>;
}

export type { NodeReport } from './child.js';

const task = JSON.parse(process.argv[2]!) as NodeTask;
const ids = Array.from({ length: task.devices[1] - task.devices[0] }, (_, i) => `bench-${task.devices[0] + i}`);
const { store, bus } = await open();
const engine = new Engine({
  store,
  clock: systemClock,
  ...benchEngineConfig(task.messages, 600_000),
  ...(bus && { signals: bus }),
});
engine.start();

async function open() {
  if (task.sqlite) {
    const sqlite = new SqliteStore({ path: task.sqlite, synchronous: 'FULL' });
    for (const id of ids) await sqlite.insertDevice(benchDevice(id));
    return { store: sqlite, bus: undefined };
  }
  const pgStore = await PostgresStore.open({ url: task.url!, schema: task.schema!, poolSize: 4 });
  const pgBus = new PostgresSignalBus({
    url: task.url!,
    channel: pgStore.channel,
    nodeId: pgStore.nodeId,
    pool: pgStore.pool,
    logger: pino({ level: 'silent' }),
  });
  await pgBus.start();
  return { store: pgStore, bus: pgBus };
}

/**
 * As a hub node's heartbeat: this node's row, and whether another node has one (then its leases
 * lock their rows: lease-lock-sql.ts). Once when open, and again at "go", when every node has one.
 */
async function heartbeat(): Promise<void> {
  if (store instanceof PostgresStore) await heartbeatAsNode(store, 'bench');
}
await heartbeat();

const body = Buffer.alloc(256, 'x');
const tokens = new Map<string, string[]>(ids.map((id) => [id, []]));

await childRun(
  async () => {
    await heartbeat();
    let ops = 0;
    for (const phase of task.phases) {
      await Promise.all(
        ids.map(async (deviceId) => {
          for (let i = 0; i < task.messages; i++) {
            if (phase === 'send') {
              await engine.send(deviceId, { body, messageId: `${deviceId}-${i}`, ack: 'none' });
            } else if (phase === 'receive') {
              const [d] = await engine.receive(deviceId, 1);
              if (!d) throw new Error(`bench: ${deviceId} had no message to receive`);
              tokens.get(deviceId)!.push(d.lockToken);
            } else {
              await engine.complete(deviceId, tokens.get(deviceId)![i]!);
            }
            ops++;
          }
        }),
      );
    }
    return ops;
  },
  () => store.commitCount,
  async () => {
    await engine.stop();
    await bus?.close();
    await store.close();
  },
);
