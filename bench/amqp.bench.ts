/**
 * End to end over AMQP: a real hub (Hub.start in this process, loopback, TLS, durable SQLite) and,
 * in a load process, one service connection and K device connections, all rhea speaking what the
 * official SDKs speak (no SASL, CBS put-token on $cbs, unsettled transfers).
 *
 * Phases:
 *   connect   K device connections: TLS, AMQP open, CBS put-token with the device key
 *   send      the service sends M messages per device, round robin, with up to I unsettled
 *             transfers in flight, while no device link is attached: accepted/s, accept latency
 *   drain     every device attaches its receiver link and accepts (completes) each message on
 *             arrival: deliveries/s at the devices, completes/s committed by the hub
 *   live      the service sends M per device again with the links attached: accept latency and
 *             send->receive latency under load, deliveries/s, completes/s
 *   one at a time  P more messages, each sent when the previous was accepted: unloaded latency
 * Memory before and after connecting the K devices, as in mqtt.bench.ts.
 *
 * Sizes (environment):
 *   FERRY_BENCH_AMQP_DEVICES   K devices (default 100)
 *   FERRY_BENCH_AMQP_MESSAGES  M messages per device per phase (default 50)
 *   FERRY_BENCH_AMQP_INFLIGHT  I unsettled service transfers in flight (default 500; the hub
 *                              grants 1000 credit per link)
 *   FERRY_BENCH_AMQP_CREDIT    credit each device link keeps (default 100)
 *   FERRY_BENCH_AMQP_PROBES    messages sent one at a time at the end, for unloaded latency (default 200)
 *   FERRY_BENCH_BODY_BYTES     body size (default 256)
 *   FERRY_BENCH_SYNC           FULL | NORMAL, SQLite synchronous (default FULL)
 *   FERRY_BENCH_ADDRESS        loopback address of the hub (default 127.0.0.200)
 *   FERRY_BENCH_PROFILE        a directory: write hub CPU profiles of each phase
 *   FERRY_BENCH_ALLOC_PROFILE  a directory: instead, a sampled profile of all it allocates (.heapprofile)
 */
import { startBenchHub } from './kit/bench-hub.js';
import { startLoad } from './kit/load.js';
import { cpuMark, cpuPercent, type MemorySnapshot, memory, reached, spanMs } from './kit/measure.js';
import { profile } from './kit/profile.js';
import { memoryRows, oneAtATimeRows, row } from './kit/table.js';
import type { ConnectResult, TrafficResult } from './kit/traffic.js';
import type { AmqpLoadInit, AttachResult } from './load/amqp-load.js';
import { envInt } from './stats.js';

export async function run(): Promise<void> {
  const devices = envInt('FERRY_BENCH_AMQP_DEVICES', 100);
  const messages = envInt('FERRY_BENCH_AMQP_MESSAGES', 50);
  const inflight = envInt('FERRY_BENCH_AMQP_INFLIGHT', 500);
  const creditWindow = envInt('FERRY_BENCH_AMQP_CREDIT', 100);
  const bodyBytes = envInt('FERRY_BENCH_BODY_BYTES', 256);
  const probes = envInt('FERRY_BENCH_AMQP_PROBES', 200);
  const total = devices * messages;
  const timeoutMs = 120_000;

  const bench = await startBenchHub({ c2d: { maxQueueDepth: Math.max(50, messages) } });
  try {
    const list = await bench.createDevices('amqp', devices + 1);
    const init: AmqpLoadInit = {
      endpoint: bench.endpoint,
      devices: list.slice(0, devices),
      warmUpDevice: list[devices]!,
      messagesPerDevice: messages,
      inflight,
      bodyBytes,
      creditWindow,
      connectConcurrency: 50,
      timeoutMs,
    };
    const load = startLoad(new URL('./load/amqp-load.ts', import.meta.url), init);
    try {
      await load.call('connectWarmUp');
      const hub0 = memory();
      const load0 = await load.call<MemorySnapshot>('memory');
      let cpu = cpuMark();
      const conn = await profile('amqp-connect', () => load.call<ConnectResult>('connect'));
      const connectCpu = cpuPercent(cpu);
      const hub1 = memory();
      const load1 = await load.call<MemorySnapshot>('memory');

      cpu = cpuMark();
      const sent = await profile('amqp-send', () => load.call<TrafficResult>('send'));
      const sendCpu = cpuPercent(cpu);

      cpu = cpuMark();
      const [drain, tDrained] = await profile('amqp-drain', () =>
        Promise.all([
          load.call<AttachResult>('attach'),
          reached(() => bench.completed(), total, timeoutMs, 'hub completes (drain)'),
        ]),
      );
      const drainCpu = cpuPercent(cpu);

      cpu = cpuMark();
      const [live, tLiveDone] = await profile('amqp-live', () =>
        Promise.all([
          load.call<TrafficResult>('live'),
          reached(() => bench.completed(), 2 * total, timeoutMs, 'hub completes (live)'),
        ]),
      );
      const liveCpu = cpuPercent(cpu);

      cpu = cpuMark();
      const [probe, tProbed] = await Promise.all([
        load.call<TrafficResult>('live', { total: probes, inflight: 1 }),
        reached(() => bench.completed(), 2 * total + probes, timeoutMs, 'hub completes (probe)'),
      ]);
      const probeCpu = cpuPercent(cpu);
      const hub2 = memory();
      const sends = await bench.sends();
      await load.call('close');

      const sync = bench.hub.config.store.kind === 'sqlite' ? bench.hub.config.store.synchronous : '-';
      console.log(
        `${devices} AMQP devices x ${messages} messages = ${total} per phase, ${bodyBytes}-byte bodies, ` +
          `${inflight} unsettled service transfers in flight, device credit ${creditWindow}, SQLite synchronous=${sync}`,
      );
      console.table([
        row('connect + put-token', devices, spanMs(conn.t0, conn.t1), conn.latency, connectCpu, conn.cpu),
        row('send: accepted', sent.accept.count, spanMs(sent.t0, sent.tSent), sent.accept, sendCpu, sent.cpu),
        row('drain: delivered', drain.count, spanMs(drain.t0, drain.tReceived), undefined, drainCpu, drain.cpu),
        row('drain: completed', total, spanMs(drain.t0, tDrained), undefined, drainCpu, drain.cpu),
        row('live: accepted', live.accept.count, spanMs(live.t0, live.tSent), live.accept, liveCpu, live.cpu),
        row(
          'live: delivered (send -> device)',
          live.endToEnd.count,
          spanMs(live.t0, live.tReceived),
          live.endToEnd,
          liveCpu,
          live.cpu,
        ),
        row('live: completed', total, spanMs(live.t0, tLiveDone), undefined, liveCpu, live.cpu),
        ...oneAtATimeRows(probe, probes, tProbed, probeCpu),
      ]);
      console.table(memoryRows([hub0, hub1, hub2], [load0, load1], devices));
      const errors = sent.sendErrors + live.sendErrors + probe.sendErrors;
      const dups = drain.duplicates + live.duplicates + probe.duplicates;
      if (errors || dups || sends.failed) {
        console.log(
          `send errors: ${errors} (first: ${sent.firstSendError ?? live.firstSendError ?? '-'}); ` +
            `hub refused ${sends.failed}; duplicate deliveries: ${dups}`,
        );
      }
    } finally {
      await load.terminate();
    }
  } finally {
    await bench.stop();
  }
}
