/**
 * End to end over MQTT: a real hub (Hub.start in this thread, loopback, TLS, durable SQLite), N
 * mqtt.js devices (MQTT 3.1.1 over TLS, clean session 0, QoS 1 subscription) and the official
 * service client (azure-iothub over AMQP) in a load worker thread. The service sends M messages
 * per device, round robin, with up to I sends awaiting their accept; each device's PUBACK
 * completes the message on the hub. Then P more messages go one at a time (unloaded latency).
 *
 * Reported: connect + subscribe rate and latency; sends accepted/s and accept latency; deliveries
 * to the devices/s and send->receive latency; completes committed by the hub/s (rates over the
 * phase's wall time from its first send); CPU of the hub process and of the load process (% of one
 * core) per phase; memory before and after connecting the devices (the hub process holds only
 * the hub; a warm-up device connects before the baseline, so one-time costs stay out of it).
 *
 * Sizes (environment):
 *   FERRY_BENCH_MQTT_DEVICES   N devices (default 200)
 *   FERRY_BENCH_MQTT_MESSAGES  M messages per device (default 20)
 *   FERRY_BENCH_MQTT_INFLIGHT  I service sends in flight (default 256)
 *   FERRY_BENCH_MQTT_PROBES    messages sent one at a time afterwards, for unloaded latency (default 200)
 *   FERRY_BENCH_BODY_BYTES     body size (default 256)
 *   FERRY_BENCH_SYNC           FULL | NORMAL, SQLite synchronous (default FULL)
 *   FERRY_BENCH_ADDRESS        loopback address of the hub (default 127.0.0.200)
 *   FERRY_BENCH_PROFILE        a directory: write hub CPU profiles of the connect and traffic phases
 *   FERRY_BENCH_ALLOC_PROFILE  a directory: instead, a sampled profile of all it allocates (.heapprofile)
 */
import { startBenchHub } from './kit/bench-hub.js';
import { startLoad } from './kit/load.js';
import { cpuMark, cpuPercent, type MemorySnapshot, memory, reached, spanMs } from './kit/measure.js';
import { profile } from './kit/profile.js';
import { memoryRows, oneAtATimeRows, row } from './kit/table.js';
import type { ConnectResult, TrafficResult } from './kit/traffic.js';
import type { MqttLoadInit } from './load/mqtt-load.js';
import { envInt } from './stats.js';

export async function run(): Promise<void> {
  const devices = envInt('FERRY_BENCH_MQTT_DEVICES', 200);
  const messages = envInt('FERRY_BENCH_MQTT_MESSAGES', 20);
  const inflight = envInt('FERRY_BENCH_MQTT_INFLIGHT', 256);
  const bodyBytes = envInt('FERRY_BENCH_BODY_BYTES', 256);
  const probes = envInt('FERRY_BENCH_MQTT_PROBES', 200);
  const total = devices * messages;
  const timeoutMs = 120_000;

  const bench = await startBenchHub({ c2d: { maxQueueDepth: Math.max(50, messages + 1) } });
  try {
    const list = await bench.createDevices('mqtt', devices + 1);
    const init: MqttLoadInit = {
      endpoint: bench.endpoint,
      devices: list.slice(0, devices),
      warmUpDevice: list[devices]!,
      messagesPerDevice: messages,
      inflight,
      bodyBytes,
      connectConcurrency: 50,
      timeoutMs,
    };
    const load = startLoad(new URL('./load/mqtt-load.ts', import.meta.url), init);
    try {
      await load.call('connectWarmUp');
      const hub0 = memory();
      const load0 = await load.call<MemorySnapshot>('memory');
      let cpu = cpuMark();
      const conn = await profile('mqtt-connect', () => load.call<ConnectResult>('connect'));
      const connectCpu = cpuPercent(cpu);
      const hub1 = memory();
      const load1 = await load.call<MemorySnapshot>('memory');

      const warmUp = await load.call<number>('openService');
      cpu = cpuMark();
      const [traffic, tCompleted] = await profile('mqtt-traffic', () =>
        Promise.all([
          load.call<TrafficResult>('traffic'),
          reached(() => bench.completed(), total + warmUp, timeoutMs, 'hub completes'),
        ]),
      );
      const trafficCpu = cpuPercent(cpu);

      // Unloaded latency: one message at a time.
      cpu = cpuMark();
      const [probe, tProbed] = await Promise.all([
        load.call<TrafficResult>('traffic', { total: probes, inflight: 1 }),
        reached(() => bench.completed(), total + warmUp + probes, timeoutMs, 'hub completes (probe)'),
      ]);
      const probeCpu = cpuPercent(cpu);
      const hub2 = memory();
      const sends = await bench.sends();
      await load.call('close');

      const sync = bench.hub.config.store.kind === 'sqlite' ? bench.hub.config.store.synchronous : '-';
      console.log(
        `${devices} MQTT devices x ${messages} messages = ${total}, ${bodyBytes}-byte bodies, ` +
          `${inflight} sends in flight from the official service client (AMQP), SQLite synchronous=${sync}`,
      );
      const connectMs = spanMs(conn.t0, conn.t1);
      const sentMs = spanMs(traffic.t0, traffic.tSent);
      const receivedMs = spanMs(traffic.t0, traffic.tReceived);
      const completedMs = spanMs(traffic.t0, tCompleted);
      console.table([
        row('connect + subscribe', devices, connectMs, conn.latency, connectCpu, conn.cpu),
        row('send accepted', traffic.accept.count, sentMs, traffic.accept, trafficCpu, traffic.cpu),
        row(
          'delivered (send -> device)',
          traffic.endToEnd.count,
          receivedMs,
          traffic.endToEnd,
          trafficCpu,
          traffic.cpu,
        ),
        row('completed (PUBACK committed)', total, completedMs, undefined, trafficCpu, traffic.cpu),
        ...oneAtATimeRows(probe, probes, tProbed, probeCpu),
      ]);
      console.table(memoryRows([hub0, hub1, hub2], [load0, load1], devices));
      const errors = traffic.sendErrors + probe.sendErrors;
      const dups = traffic.duplicates + probe.duplicates;
      if (errors || dups || sends.failed) {
        console.log(
          `send errors: ${errors} (first: ${traffic.firstSendError ?? probe.firstSendError ?? '-'}); ` +
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
