/**
 * C2D jobs (issue 27): one scheduleCloudToDeviceMessage job over FERRY_BENCH_DEVICES devices
 * (default 10,000) selected by a device-id range, on one SQLite hub with jobs.maxDevicesPerSecond
 * lifted out of the way. Rows: how fast the job queues its copies (devices / time from the PUT to
 * the job's completion, every copy committed with its ledger row), and the time from the PUT to
 * the last delivery on FERRY_BENCH_ONLINE devices (default 500) connected over MQTT (the others
 * are offline: their copies wait in their queues). Sizes: FERRY_BENCH_DEVICES, FERRY_BENCH_ONLINE.
 */
import { Agent, request } from 'node:https';
import { createSecureContext } from 'node:tls';
import { createSasToken, parseHubConnectionString } from '@ferry/common';
import { startBenchHub } from './kit/bench-hub.js';
import { connectMqttDevice, endAll } from './kit/mqtt-device.js';
import { envInt, since } from './stats.js';

const DEVICES = envInt('FERRY_BENCH_DEVICES', 10_000);
const ONLINE = Math.min(DEVICES, envInt('FERRY_BENCH_ONLINE', 500));

export async function run(): Promise<void> {
  const bench = await startBenchHub({ jobs: { maxDevicesPerSecond: 1_000_000, pollIntervalMs: 20 } });
  try {
    const devices = await bench.importDevices('job', DEVICES);
    const { endpoint } = bench;
    const cs = parseHubConnectionString(bench.hub.connectionString('iothubowner'));
    const authorization = createSasToken({
      resourceUri: cs.hostName,
      key: cs.sharedAccessKey,
      keyName: cs.sharedAccessKeyName,
      encode: false,
      expiry: Math.ceil(Date.now() / 1000) + 3600,
    });
    const agent = new Agent({ keepAlive: true, ca: endpoint.ca });
    const rest = (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        const req = request(
          {
            host: endpoint.address,
            port: endpoint.ports.https,
            method,
            path: `${path}?api-version=2021-04-12`,
            agent,
            headers: {
              authorization,
              'content-type': 'application/json',
              ...(payload && { 'content-length': payload.length }),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }),
            );
          },
        );
        req.on('error', reject);
        req.end(payload);
      });

    let lastDelivery = 0n;
    let delivered = 0;
    const secureContext = createSecureContext({ ca: endpoint.ca });
    const clients = await Promise.all(
      devices.slice(0, ONLINE).map((d) =>
        connectMqttDevice(endpoint, d, {
          secureContext,
          clean: true,
          onMessage: () => {
            delivered++;
            lastDelivery = process.hrtime.bigint();
          },
        }),
      ),
    );
    const start = process.hrtime.bigint();
    const put = await rest('PUT', '/jobs/v2/bench', {
      jobId: 'bench',
      type: 'scheduleCloudToDeviceMessage',
      queryCondition: "deviceId >= 'job-' AND deviceId < 'job.'",
      cloudToDeviceMessage: { body: Buffer.from('bench').toString('base64'), messageId: 'bench' },
    });
    if (put.status !== 200) throw new Error(`PUT /jobs/v2/bench: ${put.status} ${JSON.stringify(put.json)}`);
    let job: { status: string; deviceJobStatistics: { succeededCount: number; failedCount: number } };
    for (;;) {
      job = (await rest('GET', '/jobs/v2/bench')).json as typeof job;
      if (job.status !== 'queued' && job.status !== 'running') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const queuedMs = since(start);
    while (delivered < ONLINE) await new Promise((r) => setTimeout(r, 10));
    const lastMs = Number(lastDelivery - start) / 1e6;
    await endAll(clients);
    agent.destroy();
    const s = job.deviceJobStatistics;
    console.table([
      {
        devices: DEVICES,
        status: job.status,
        succeeded: s.succeededCount,
        failed: s.failedCount,
        'copies queued/s': Math.round(s.succeededCount / (queuedMs / 1000)),
        'job time (ms)': Math.round(queuedMs),
        online: ONLINE,
        'to the last delivery (ms)': Math.round(lastMs),
      },
    ]);
  } finally {
    await bench.stop();
  }
}
