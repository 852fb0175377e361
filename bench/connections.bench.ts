/**
 * MQTT connection scale: C mqtt.js devices (MQTT 3.1.1 over TLS, device SAS, clean session 0)
 * connect to a real hub (Hub.start in this process, loopback) from a load process, at most P
 * connects in flight.
 *
 * Rounds:
 *   first connect   CONNECT + CONNACK + SUBSCRIBE + SUBACK; the hub creates and stores each
 *                   device's session
 *   reconnect       after all disconnected: CONNECT + CONNACK with the session present and no
 *                   SUBSCRIBE, as the official SDK reconnects (token renewal, network blips)
 * Memory of the hub process before and after the first round (per connection), and of the load
 * process for comparison. A warm-up device connects before the baseline.
 *
 * Sizes (environment):
 *   FERRY_BENCH_CONNECTIONS          C devices (default 1000)
 *   FERRY_BENCH_CONNECT_CONCURRENCY  P connects in flight (default 100)
 *   FERRY_BENCH_SYNC                 FULL | NORMAL, SQLite synchronous (default FULL)
 *   FERRY_BENCH_ADDRESS              loopback address of the hub (default 127.0.0.200)
 *   FERRY_BENCH_PROFILE              a directory: write hub CPU profiles of both rounds
 *   FERRY_BENCH_ALLOC_PROFILE        a directory: instead, sampled allocation profiles (.heapprofile)
 */
import { startBenchHub } from './kit/bench-hub.js';
import { startLoad } from './kit/load.js';
import { cpuMark, cpuPercent, type MemorySnapshot, memory, spanMs } from './kit/measure.js';
import { profile } from './kit/profile.js';
import { memRow, row } from './kit/table.js';
import type { ConnectResult } from './kit/traffic.js';
import type { ConnectionsLoadInit } from './load/connections-load.js';
import { envInt } from './stats.js';

async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function run(): Promise<void> {
  const count = envInt('FERRY_BENCH_CONNECTIONS', 1000);
  const concurrency = envInt('FERRY_BENCH_CONNECT_CONCURRENCY', 100);
  const bench = await startBenchHub();
  try {
    const list = await bench.createDevices('conn', count + 1);
    const init: ConnectionsLoadInit = {
      endpoint: bench.endpoint,
      devices: list.slice(0, count),
      warmUpDevice: list[count]!,
      concurrency,
    };
    const load = startLoad(new URL('./load/connections-load.ts', import.meta.url), init);
    try {
      await load.call('connectWarmUp');
      const hub0 = memory();
      const load0 = await load.call<MemorySnapshot>('memory');
      let cpu = cpuMark();
      const first = await profile('connections-first', () => load.call<ConnectResult>('connect'));
      const firstCpu = cpuPercent(cpu);
      const hub1 = memory();
      const load1 = await load.call<MemorySnapshot>('memory');

      await load.call('disconnect');
      await until(async () => (await bench.connections('mqtt')) === 0, 30_000, 'MQTT connections still open');
      cpu = cpuMark();
      const again = await profile('connections-reconnect', () => load.call<ConnectResult>('connect'));
      const againCpu = cpuPercent(cpu);
      await load.call('disconnect');

      const sync = bench.hub.config.store.kind === 'sqlite' ? bench.hub.config.store.synchronous : '-';
      console.log(
        `${count} MQTT devices, ${concurrency} connects in flight, clean session 0, SQLite synchronous=${sync}`,
      );
      console.table([
        row('first connect + subscribe', count, spanMs(first.t0, first.t1), first.latency, firstCpu, first.cpu),
        row('reconnect (session present)', count, spanMs(again.t0, again.t1), again.latency, againCpu, again.cpu),
      ]);
      console.table([
        memRow('hub heap', hub0.heapUsed, hub1.heapUsed, undefined, count),
        memRow('hub external', hub0.external, hub1.external, undefined, count),
        memRow('hub process RSS', hub0.rss, hub1.rss, undefined, count),
        memRow('load process heap (clients)', load0.heapUsed, load1.heapUsed, undefined, count),
        memRow('load process RSS (clients)', load0.rss, load1.rss, undefined, count),
      ]);
    } finally {
      await load.terminate();
    }
  } finally {
    await bench.stop();
  }
}
