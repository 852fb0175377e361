/**
 * Direct methods (issue 26): the round trip of one call, from the service's HTTPS request
 * (POST /twins/{id}/methods) to its 200 with the device's answer, through the device's MQTT
 * connection (the device answers at once, echoing the payload). Rows:
 *   1 node (SQLite)                 the device and the request on one hub
 *   2 nodes (PostgreSQL), A -> B    the request to node A, the device on node B: the call goes
 *                                   through the method_calls table and NOTIFY (docs/methods.md)
 * each with one call at a time (the round trip itself) and with FERRY_BENCH_CONCURRENCY calls in
 * flight (one device each). Both nodes and the clients run in this process, on OS-chosen ports of
 * one loopback address: the figures compare one node with two, they are not a node's ceiling.
 *
 * Sizes: FERRY_BENCH_CALLS (default 2000 per row), FERRY_BENCH_CONCURRENCY (default 16),
 * FERRY_BENCH_PAYLOAD bytes of payload (default 100). Database: FERRY_BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/test), a schema of its own, dropped at the end.
 */
import { Agent, request } from 'node:https';
import { createSecureContext } from 'node:tls';
import { createSasToken, parseHubConnectionString } from '@ferry/common';
import type { MqttClient } from 'mqtt';
import pg from 'pg';
import { type BenchDevice, type BenchHub, type HubEndpoint, startBenchHub } from './kit/bench-hub.js';
import { summarize } from './kit/measure.js';
import { connectMqttDevice, endAll } from './kit/mqtt-device.js';
import { envInt, since } from './stats.js';

const CALLS = envInt('FERRY_BENCH_CALLS', 2000);
const CONCURRENCY = envInt('FERRY_BENCH_CONCURRENCY', 16);
const PAYLOAD = envInt('FERRY_BENCH_PAYLOAD', 100);

/** Devices answering every call at once with the request's payload. */
async function answeringDevices(endpoint: HubEndpoint, devices: readonly BenchDevice[]): Promise<MqttClient[]> {
  const secureContext = createSecureContext({ ca: endpoint.ca });
  return Promise.all(
    devices.map(async (d) => {
      const client = await connectMqttDevice(endpoint, d, { secureContext, clean: true });
      client.on('message', (topic, payload) => {
        const rid = /\?\$rid=(.+)$/.exec(topic)?.[1];
        if (topic.startsWith('$iothub/methods/POST/') && rid)
          client.publish(`$iothub/methods/res/200/?$rid=${rid}`, payload);
      });
      const granted = await client.subscribeAsync('$iothub/methods/POST/#', { qos: 0 });
      if (granted[0]?.qos !== 0) throw new Error(`${d.deviceId}: methods subscription refused`);
      return client;
    }),
  );
}

/** Invokes methods on a hub's REST API over one keep-alive agent. */
function invoker(endpoint: HubEndpoint) {
  const cs = parseHubConnectionString(endpoint.serviceConnectionString);
  const authorization = createSasToken({
    resourceUri: cs.hostName,
    key: cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    encode: false,
    expiry: Math.ceil(Date.now() / 1000) + 3600,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: endpoint.ca });
  const body = JSON.stringify({ methodName: 'bench', payload: 'x'.repeat(PAYLOAD), responseTimeoutInSeconds: 30 });
  return {
    invoke(deviceId: string): Promise<void> {
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: endpoint.address,
            port: endpoint.ports.https,
            method: 'POST',
            path: `/twins/${deviceId}/methods?api-version=2021-04-12`,
            agent,
            headers: { authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`${deviceId}: HTTP ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** CALLS calls spread over `devices` (one at a time per device, all devices at once); latencies in ms. */
async function measure(
  endpoint: HubEndpoint,
  devices: readonly BenchDevice[],
): Promise<{ latencies: number[]; ms: number }> {
  const client = invoker(endpoint);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < 20; i++) await client.invoke(devices[0]!.deviceId); // warm-up
    const start = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      devices.map(async (d) => {
        while (next < CALLS) {
          next++;
          const t = process.hrtime.bigint();
          await client.invoke(d.deviceId);
          latencies.push(since(t));
        }
      }),
    );
    return { latencies, ms: since(start) };
  } finally {
    client.close();
  }
}

interface Row {
  setup: string;
  'calls in flight': number;
  calls: number;
  'per s': number;
  'p50 ms': number;
  'p99 ms': number;
  'max ms': number;
}

/** A row per concurrency: the request through `front`, the devices connected to `back`. */
async function rows(setup: string, front: BenchHub, back: BenchHub, prefix: string): Promise<Row[]> {
  const devices = await front.createDevices(prefix, CONCURRENCY);
  const clients = await answeringDevices(back.endpoint, devices);
  const out: Row[] = [];
  try {
    for (const inFlight of [...new Set([1, CONCURRENCY])]) {
      const { latencies, ms } = await measure(front.endpoint, devices.slice(0, inFlight));
      const s = summarize(latencies);
      out.push({
        setup,
        'calls in flight': inFlight,
        calls: s.count,
        'per s': Math.round((s.count * 1000) / ms),
        'p50 ms': s.p50,
        'p99 ms': s.p99,
        'max ms': s.max,
      });
    }
  } finally {
    await endAll(clients);
  }
  return out;
}

export async function run(): Promise<void> {
  const table: Row[] = [];
  const single = await startBenchHub();
  try {
    table.push(...(await rows('1 node (SQLite)', single, single, 'm1')));
  } finally {
    await single.stop();
  }

  const url = process.env.FERRY_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `ferry_bench_methods_${process.pid}`;
  const store = { url, schema };
  const a = await startBenchHub({ store });
  const b = await startBenchHub({ store });
  try {
    table.push(...(await rows('2 nodes (PostgreSQL), via A, device on B', a, b, 'm2')));
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
  console.log(`Direct methods: round trip from the service's request to its answer (${PAYLOAD}-byte payload)`);
  console.table(table);
}
