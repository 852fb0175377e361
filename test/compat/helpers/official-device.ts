/** The official device client on each of its transports, opened against a test hub with its CA. */
import { readFileSync } from 'node:fs';
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

/** Closes a device client if there is one; a close that fails or hangs does not fail the test. */
export async function closeDevice(client: Client | undefined): Promise<void> {
  if (client) await withTimeout(client.close(), 5000, 'device close').catch(() => undefined);
}
