/**
 * Load process of mqtt.bench.ts: N mqtt.js devices, and the official service client sending them
 * C2D messages over AMQP. Commands: connectWarmUp, connect, memory, openService, traffic, close.
 */
import { EventEmitter } from 'node:events';
import { createSecureContext } from 'node:tls';
import type { MqttClient } from 'mqtt';
import type { BenchDevice, HubEndpoint } from '../kit/bench-hub.js';
import { serveLoad } from '../kit/load.js';
import { cpuMark, cpuPercent, memory, summarize } from '../kit/measure.js';
import { connectMqttDevice, endAll } from '../kit/mqtt-device.js';
import { pool } from '../kit/pool.js';
import { openServiceClient, type ServiceClient } from '../kit/service-client.js';
import { type ConnectResult, Deliveries, sendAll, type TrafficResult, trafficResult } from '../kit/traffic.js';

export interface MqttLoadInit {
  endpoint: HubEndpoint;
  devices: BenchDevice[];
  /** Connected (and subscribed) before the memory baseline, so one-time costs stay out of the per-connection figures. */
  warmUpDevice: BenchDevice;
  messagesPerDevice: number;
  /** Service sends awaiting their accept at once. */
  inflight: number;
  bodyBytes: number;
  connectConcurrency: number;
  timeoutMs: number;
}

serveLoad<MqttLoadInit>((init) => {
  // The official client adds an 'error' listener per send in flight on its link.
  EventEmitter.defaultMaxListeners = Math.max(10, init.inflight + 10);
  const secureContext = createSecureContext({ ca: init.endpoint.ca });
  const clients: MqttClient[] = [];
  let service: ServiceClient | undefined;
  let deliveries: Deliveries | undefined;

  async function connectWarmUp(): Promise<void> {
    clients.push(await connectMqttDevice(init.endpoint, init.warmUpDevice, { secureContext }));
  }

  async function connect(): Promise<ConnectResult> {
    const cpu = cpuMark();
    const t0 = process.hrtime.bigint();
    const latencies = await pool(init.devices, init.connectConcurrency, async (device) => {
      clients.push(
        await connectMqttDevice(init.endpoint, device, {
          secureContext,
          onMessage: (_deviceId, _topic, payload) => deliveries?.record(payload),
        }),
      );
    });
    return { t0, t1: process.hrtime.bigint(), latency: summarize(latencies), cpu: cpuPercent(cpu) };
  }

  /** Opens the service client; resolves with how many warm-up messages it sent. */
  async function openService(): Promise<number> {
    service ??= await openServiceClient(init.endpoint, init.devices[0]!.deviceId);
    return service.warmUpMessages;
  }

  /** `total` messages round robin over the devices (default M per device), `inflight` at a time. */
  async function traffic(arg: unknown): Promise<TrafficResult> {
    const o = (arg ?? {}) as { total?: number; inflight?: number };
    const n = init.devices.length;
    const total = o.total ?? n * init.messagesPerDevice;
    if (!service) throw new Error('call openService first');
    const svc = service;
    const cpu = cpuMark();
    deliveries = new Deliveries(total);
    const sent = await sendAll(total, o.inflight ?? init.inflight, init.bodyBytes, (k, body) =>
      svc.send(init.devices[k % n]!.deviceId, body, `m-${k}`),
    );
    await deliveries.wait(init.timeoutMs, 'MQTT deliveries');
    return trafficResult(sent, deliveries, cpuPercent(cpu));
  }

  async function close(): Promise<void> {
    await Promise.all([endAll(clients.splice(0)), service?.close().catch(() => undefined)]);
    service = undefined;
  }

  return { connectWarmUp, connect, memory: async () => memory(), openService, traffic, close };
});
