/** Telemetry helpers: the official device clients on every transport, and the hub's event log read from its data dir. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '@ferry/hub';
import common from 'azure-iot-common';
import deviceSdk, { type Client } from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import deviceHttp from 'azure-iot-device-http';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { HubProcess } from '../harness.js';
import { withTimeout } from './wait.js';

export const DEVICE_TRANSPORTS = {
  Mqtt: deviceMqtt.Mqtt,
  MqttWs: deviceMqtt.MqttWs,
  Amqp: deviceAmqp.Amqp,
  AmqpWs: deviceAmqp.AmqpWs,
  Http: deviceHttp.Http,
} as const;
export type DeviceTransport = keyof typeof DEVICE_TRANSPORTS;

export async function openDevice(hub: HubProcess, cs: string, transport: DeviceTransport): Promise<Client> {
  const client = deviceSdk.Client.fromConnectionString(cs, DEVICE_TRANSPORTS[transport]);
  client.on('error', () => {});
  const ca = readFileSync(hub.caFile, 'utf8');
  // On HTTP setOptions resolves only when http.receivePolicy is given (official-sdk-wire.md G.10).
  const options = transport === 'Http' ? { ca, http: { receivePolicy: { interval: 1 } } } : { ca };
  await withTimeout(client.setOptions(options), 5000, 'device setOptions');
  await withTimeout(client.open(), 20_000, `${transport} device open`);
  return client;
}

export function telemetry(
  body: string | Buffer,
  o: { messageId?: string; correlationId?: string; contentType?: string; properties?: Record<string, string> } = {},
): common.Message {
  const m = new common.Message(body);
  if (o.messageId) m.messageId = o.messageId;
  if (o.correlationId) m.correlationId = o.correlationId;
  if (o.contentType) m.contentType = o.contentType as 'application/json';
  for (const [k, v] of Object.entries(o.properties ?? {})) m.properties.add(k, v);
  return m;
}

export interface LoggedEvent {
  partition: number;
  sequenceNumber: number;
  deviceId: string;
  body: string;
  system: Record<string, string>;
  properties: Record<string, string>;
  annotations: Record<string, string>;
}

/** Every event in the data dir's SQLite event log (the hub must be stopped or killed). */
export async function eventsOnDisk(dataDir: string, partitions = 4): Promise<LoggedEvent[]> {
  const store = new SqliteStore({ path: join(dataDir, 'ferry.db'), checkpointThread: false });
  try {
    const out: LoggedEvent[] = [];
    for (let p = 0; p < partitions; p++) {
      for (const e of await store.readEvents(p, 0, 100_000)) {
        out.push({ ...e, body: e.body.toString('utf8') });
      }
    }
    return out;
  } finally {
    await store.close();
  }
}
