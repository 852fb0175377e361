/**
 * Load process of amqp.bench.ts: one service connection (rhea, CBS put-token with the `service`
 * policy, sender link to /messages/devicebound, many unsettled transfers in flight) and K device
 * connections (rhea, CBS put-token with the device key, receiver link from
 * /devices/{id}/messages/devicebound, Accepted = complete). Commands: connectWarmUp, connect,
 * memory, send, attach, live, close.
 */
import { createSecureContext } from 'node:tls';
import type { Receiver } from 'rhea';
import { AmqpPeer, bodyOf, c2dMessage, SettlingSender } from '../kit/amqp-peer.js';
import type { BenchDevice, HubEndpoint } from '../kit/bench-hub.js';
import { serveLoad } from '../kit/load.js';
import { cpuMark, cpuPercent, memory, summarize } from '../kit/measure.js';
import { pool } from '../kit/pool.js';
import { type ConnectResult, Deliveries, sendAll, type TrafficResult, trafficResult } from '../kit/traffic.js';

export interface AmqpLoadInit {
  endpoint: HubEndpoint;
  devices: BenchDevice[];
  /** Connected and authorized before the memory baseline. */
  warmUpDevice: BenchDevice;
  messagesPerDevice: number;
  /** Unsettled service transfers in flight. */
  inflight: number;
  bodyBytes: number;
  /** Credit each device link keeps topped up (rhea credit_window). */
  creditWindow: number;
  connectConcurrency: number;
  timeoutMs: number;
}

export interface AttachResult {
  /** hrtime of the first attach, and of the last unique delivery. */
  t0: bigint;
  tReceived: bigint;
  count: number;
  duplicates: number;
  cpu: number;
}

serveLoad<AmqpLoadInit>((init) => {
  const secureContext = createSecureContext({ ca: init.endpoint.ca });
  const n = init.devices.length;
  const total = n * init.messagesPerDevice;
  const peers: AmqpPeer[] = [];
  const devicePeers: AmqpPeer[] = [];
  const links: Receiver[] = [];
  let service: SettlingSender | undefined;
  let deliveries: Deliveries | undefined;

  async function openDevice(device: BenchDevice): Promise<AmqpPeer> {
    const peer = await AmqpPeer.open(init.endpoint, secureContext);
    peers.push(peer);
    await peer.authorizeDevice(init.endpoint, device);
    return peer;
  }

  async function connectWarmUp(): Promise<void> {
    await openDevice(init.warmUpDevice);
  }

  /** Device connections (authorized, no link yet) and the service connection with its sender link. */
  async function connect(): Promise<ConnectResult> {
    const cpu = cpuMark();
    const t0 = process.hrtime.bigint();
    const opened = new Map<string, AmqpPeer>();
    const latencies = await pool(init.devices, init.connectConcurrency, async (device) => {
      opened.set(device.deviceId, await openDevice(device));
    });
    for (const d of init.devices) devicePeers.push(opened.get(d.deviceId)!);
    const t1 = process.hrtime.bigint();
    const svc = await AmqpPeer.open(init.endpoint, secureContext);
    peers.push(svc);
    await svc.authorizeService(init.endpoint);
    service = new SettlingSender(await svc.openSender('/messages/devicebound'));
    return { t0, t1, latency: summarize(latencies), cpu: cpuPercent(cpu) };
  }

  function sendPhase(count = total, inflight = init.inflight) {
    const svc = service;
    if (!svc) throw new Error('call connect first');
    return sendAll(count, inflight, init.bodyBytes, (k, body) =>
      svc.send(c2dMessage(init.devices[k % n]!.deviceId, body, `m-${k}`)),
    );
  }

  /** The service sends M per device while no device link is attached: the queues fill up. */
  async function send(): Promise<TrafficResult> {
    const cpu = cpuMark();
    const sent = await sendPhase();
    return trafficResult(sent, undefined, cpuPercent(cpu));
  }

  /** Attaches every device link; the queued messages drain, each accepted (completed) on arrival. */
  async function attach(): Promise<AttachResult> {
    const cpu = cpuMark();
    deliveries = new Deliveries(total);
    const t0 = process.hrtime.bigint();
    await Promise.all(
      init.devices.map(async (device, i) => {
        const link = await devicePeers[i]!.openReceiver(
          `/devices/${device.deviceId}/messages/devicebound`,
          init.creditWindow,
        );
        links.push(link);
        link.on('message', (ctx) => {
          deliveries?.record(bodyOf(ctx.message));
          ctx.delivery?.accept();
        });
      }),
    );
    await deliveries.wait(init.timeoutMs, 'AMQP drain');
    return {
      t0,
      tReceived: deliveries.lastAt,
      count: deliveries.count,
      duplicates: deliveries.duplicates,
      cpu: cpuPercent(cpu),
    };
  }

  /**
   * Sends again with the device links attached: accept and send->receive latency under load.
   * Optionally `total` messages with `inflight` at a time (1: unloaded latency).
   */
  async function live(arg: unknown): Promise<TrafficResult> {
    const o = (arg ?? {}) as { total?: number; inflight?: number };
    const cpu = cpuMark();
    const count = o.total ?? total;
    deliveries = new Deliveries(count);
    const sent = await sendPhase(count, o.inflight);
    await deliveries.wait(init.timeoutMs, 'AMQP live deliveries');
    return trafficResult(sent, deliveries, cpuPercent(cpu));
  }

  async function close(): Promise<void> {
    await Promise.all(peers.splice(0).map((p) => p.close()));
  }

  return { connectWarmUp, connect, memory: async () => memory(), send, attach, live, close };
});
