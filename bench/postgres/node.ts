/**
 * One hub node for the PostgreSQL bench, as its own process: an Engine on a PostgresStore with the
 * LISTEN/NOTIFY bus. It works on a range of devices and reports what it measured as one JSON line.
 * Argument (JSON): { url, schema, devices: [from, to), messages, phases: ["send" | "receive" | "complete"] }.
 * It prints "ready", waits for a line on stdin (so several nodes start together), runs, prints the
 * result, and waits for another line before it closes its connections.
 */
import { createInterface } from 'node:readline';
import pino from 'pino';
import { systemClock } from '../../packages/hub/src/clock.js';
import { PostgresSignalBus } from '../../packages/hub/src/cluster/postgres-signal-bus.js';
import { Engine } from '../../packages/hub/src/engine/engine.js';
import { PostgresStore } from '../../packages/hub/src/store/postgres/postgres-store.js';
import { benchEngineConfig } from '../stats.js';

export interface NodeTask {
  url: string;
  schema: string;
  devices: [number, number];
  messages: number;
  phases: Array<'send' | 'receive' | 'complete'>;
}

export interface NodeReport {
  /** Wall time of all phases, ms. */
  ms: number;
  ops: number;
  transactions: number;
  /** This process's CPU over the phases, µs. */
  cpuUs: number;
}

const task = JSON.parse(process.argv[2]!) as NodeTask;
const store = await PostgresStore.open({ url: task.url, schema: task.schema, poolSize: 4 });
const bus = new PostgresSignalBus({
  url: task.url,
  channel: store.channel,
  nodeId: store.nodeId,
  pool: store.pool,
  logger: pino({ level: 'silent' }),
});
await bus.start();
const engine = new Engine({
  store,
  clock: systemClock,
  ...benchEngineConfig(task.messages, 600_000),
  signals: bus,
});
engine.start();

const ids = Array.from({ length: task.devices[1] - task.devices[0] }, (_, i) => `bench-${task.devices[0] + i}`);
const body = Buffer.alloc(256, 'x');
const tokens = new Map<string, string[]>(ids.map((id) => [id, []]));

process.stdout.write('ready\n');
const input = createInterface({ input: process.stdin });
const nextLine = () => new Promise<void>((resolve) => input.once('line', () => resolve()));
await nextLine();

const cpu = process.cpuUsage();
const before = store.commitCount;
const start = process.hrtime.bigint();
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
const used = process.cpuUsage(cpu);
const report: NodeReport = {
  ms: Number(process.hrtime.bigint() - start) / 1e6,
  ops,
  transactions: store.commitCount - before,
  cpuUs: used.user + used.system,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
// The parent reads PostgreSQL's CPU while this node's backends still exist, then lets it go.
await nextLine();
input.close();
await engine.stop();
await bus.close();
await store.close();
process.stdin.destroy();
