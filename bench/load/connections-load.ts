/**
 * Load process of connections.bench.ts: connects and disconnects C mqtt.js devices.
 * Commands: connectWarmUp, connect, memory, disconnect.
 */
import { createSecureContext } from 'node:tls';
import type { MqttClient } from 'mqtt';
import type { BenchDevice, HubEndpoint } from '../kit/bench-hub.js';
import { serveLoad } from '../kit/load.js';
import { cpuMark, cpuPercent, memory, summarize } from '../kit/measure.js';
import { connectMqttDevice, endAll } from '../kit/mqtt-device.js';
import { pool } from '../kit/pool.js';
import type { ConnectResult } from '../kit/traffic.js';

export interface ConnectionsLoadInit {
  endpoint: HubEndpoint;
  devices: BenchDevice[];
  warmUpDevice: BenchDevice;
  concurrency: number;
}

serveLoad<ConnectionsLoadInit>((init) => {
  const secureContext = createSecureContext({ ca: init.endpoint.ca });
  const clients: MqttClient[] = [];

  async function connectWarmUp(): Promise<void> {
    clients.push(await connectMqttDevice(init.endpoint, init.warmUpDevice, { secureContext }));
  }

  /** Connects every device: clean session 0, subscribing unless the hub kept the session. */
  async function connect(): Promise<ConnectResult> {
    const cpu = cpuMark();
    const t0 = process.hrtime.bigint();
    const latencies = await pool(init.devices, init.concurrency, async (device) => {
      clients.push(
        await connectMqttDevice(init.endpoint, device, { secureContext, subscribe: 'unless-session-present' }),
      );
    });
    return { t0, t1: process.hrtime.bigint(), latency: summarize(latencies), cpu: cpuPercent(cpu) };
  }

  async function disconnect(): Promise<void> {
    await endAll(clients.splice(0));
  }

  return { connectWarmUp, connect, memory: async () => memory(), disconnect };
});
