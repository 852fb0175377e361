/**
 * A bench device: mqtt.js 5 speaking MQTT 3.1.1 over TLS as the official device SDK does (client id
 * = device id, username `{host}/{deviceId}/?api-version=...`, device-key SAS as password, clean
 * session 0, QoS 1 subscription to its C2D topic). mqtt.js sends the PUBACK, which completes the
 * message on the hub, after the 'message' handler returns.
 */
import type { SecureContext } from 'node:tls';
import { createSasToken } from '@ferry/common';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { BenchDevice, HubEndpoint } from './bench-hub.js';

export interface MqttDeviceOptions {
  /** One TLS context for all devices: a CA given per connection would be parsed per connection. */
  secureContext: SecureContext;
  /** Called for each C2D PUBLISH, before mqtt.js acknowledges it. */
  onMessage?: (deviceId: string, topic: string, payload: Buffer) => void;
  /**
   * Subscribe to the C2D topic after CONNACK: 'always', or 'unless-session-present' (what the
   * official SDK amounts to: it does not subscribe again when it reconnects). Default 'always'.
   */
  subscribe?: 'always' | 'unless-session-present';
  /** Clean session flag (default false, as the official SDK). */
  clean?: boolean;
}

export function c2dTopicFilter(deviceId: string): string {
  return `devices/${deviceId}/messages/devicebound/#`;
}

/** Connects, subscribes, and resolves once the SUBACK (or the CONNACK, when not subscribing) is in. */
export async function connectMqttDevice(
  endpoint: HubEndpoint,
  device: BenchDevice,
  o: MqttDeviceOptions,
): Promise<MqttClient> {
  const password = createSasToken({
    resourceUri: `${endpoint.address}/devices/${device.deviceId}`,
    key: device.key,
    expiry: Math.ceil(Date.now() / 1000) + 3600,
  });
  // mqtt.js hands its options to tls.connect, secureContext included; its types do not list it.
  const options: IClientOptions & { secureContext: SecureContext } = {
    protocol: 'mqtts',
    host: endpoint.address,
    port: endpoint.ports.mqtts,
    secureContext: o.secureContext,
    protocolVersion: 4,
    clientId: device.deviceId,
    clean: o.clean ?? false,
    keepalive: 240,
    reconnectPeriod: 0,
    connectTimeout: 30_000,
    username: `${endpoint.address}/${device.deviceId}/?api-version=2021-04-12`,
    password,
  };
  const client = mqtt.connect(options);
  const onMessage = o.onMessage;
  if (onMessage) client.on('message', (topic, payload) => onMessage(device.deviceId, topic, payload));
  // Errors after CONNACK (a hub closing at the end) are not the benchmark's business.
  client.on('error', () => undefined);
  try {
    const sessionPresent = await new Promise<boolean>((resolve, reject) => {
      const closed = () => reject(new Error(`${device.deviceId}: closed before CONNACK`));
      client.once('error', reject);
      client.once('close', closed);
      client.once('connect', (connack) => {
        client.off('error', reject);
        client.off('close', closed);
        resolve(connack.sessionPresent);
      });
    });
    if (!(sessionPresent && o.subscribe === 'unless-session-present')) {
      const granted = await client.subscribeAsync(c2dTopicFilter(device.deviceId), { qos: 1 });
      if (granted[0]?.qos !== 1) throw new Error(`${device.deviceId}: subscription refused (${granted[0]?.qos})`);
    }
  } catch (err) {
    client.end(true);
    throw err;
  }
  return client;
}

export async function endAll(clients: readonly MqttClient[]): Promise<void> {
  await Promise.all(
    clients.map((c) =>
      Promise.race([c.endAsync(false), new Promise<void>((r) => setTimeout(r, 5000).unref())]).catch(() => undefined),
    ),
  );
}
