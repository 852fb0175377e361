/**
 * MQTT end-to-end helpers: the official device client (azure-iot-device + azure-iot-device-mqtt,
 * Mqtt or MqttWs) with an inbox, a raw mqtt.js 5 client that never acknowledges, and raw TLS
 * sockets for bad input. Everything connects to the hub's loopback address only.
 */
import { readFileSync } from 'node:fs';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { parseDeviceConnectionString } from '@ferry/common';
import type { Client, Message } from 'azure-iot-device';
// CommonJS packages: take their exports off the default export.
import deviceSdk from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { HubProcess } from './harness.js';
import { deviceSas } from './helpers/auth.js';
import { Inbox } from './helpers/inbox.js';
import { withTimeout } from './helpers/wait.js';

export type MqttTransportName = 'Mqtt' | 'MqttWs';

export interface MqttDevice {
  readonly client: Client;
  /** Errors the client emitted ('error' event). */
  readonly errors: Error[];
  /** The next message the SDK emitted, in order. */
  next(timeoutMs?: number): Promise<Message>;
  close(): Promise<void>;
}

export interface OpenOptions {
  tokenRenewal?: { tokenValidTimeInSeconds: number; tokenRenewalMarginInSeconds: number };
}

/** The official client, CA set BEFORE the message listener (adding it connects at once, G.17). */
export async function openMqttDevice(
  hub: HubProcess,
  cs: string,
  transport: MqttTransportName = 'Mqtt',
  o: OpenOptions = {},
): Promise<MqttDevice> {
  const client = deviceSdk.Client.fromConnectionString(cs, transport === 'Mqtt' ? deviceMqtt.Mqtt : deviceMqtt.MqttWs);
  await withTimeout(
    client.setOptions({
      ca: readFileSync(hub.caFile, 'utf8'),
      ...(o.tokenRenewal ? { tokenRenewal: o.tokenRenewal } : {}),
    }),
    5000,
    'device setOptions',
  );
  const inbox = new Inbox<Message>();
  const errors: Error[] = [];
  const onMessage = (m: Message): void => {
    // On MQTT complete() is a no-op (the PUBACK already went out); call it as an app would.
    void client.complete(m).catch(() => undefined);
    inbox.push(m);
  };
  client.on('error', (err: Error) => errors.push(err));
  client.on('message', onMessage);
  return {
    client,
    errors,
    next: (timeoutMs = 10_000) => inbox.next(timeoutMs, `a C2D message on the ${transport} device client`),
    async close() {
      client.removeAllListeners('message');
      await withTimeout(client.close(), 5000, 'device close').catch(() => undefined);
    },
  };
}

/** Message properties as a plain object, as the MQTT transport exposes them. */
export function propertiesOf(m: Message): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < m.properties.count(); i++) {
    const p = m.properties.getItem(i);
    out[p.key] = String(p.value);
  }
  return out;
}

/** A raw mqtt.js client (MQTT 3.1.1 over TLS) that records every PUBLISH and never sends PUBACK. */
export interface SilentClient {
  readonly mqtt: MqttClient;
  readonly publishes: IPublishPacket[];
  /** Resolves with the n-th PUBLISH (1-based) ever received. */
  nth(n: number, timeoutMs?: number): Promise<IPublishPacket>;
  readonly closed: Promise<void>;
  end(): Promise<void>;
}

/** Only the hub's address and CA are used: a hub started another way (npm start) passes just those. */
export type HubAddress = Pick<HubProcess, 'address' | 'caFile'>;

export function mqttOptions(hub: HubAddress, cs: string, extra: Partial<IClientOptions> = {}): IClientOptions {
  const { deviceId } = parseDeviceConnectionString(cs);
  return {
    protocolVersion: 4,
    clientId: deviceId,
    clean: false,
    keepalive: 60,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    username: `${hub.address}/${deviceId}/?api-version=2021-04-12`,
    password: deviceSas(cs),
    ca: readFileSync(hub.caFile, 'utf8'),
    ...extra,
  };
}

export async function connectSilent(
  hub: HubAddress,
  cs: string,
  extra: Partial<IClientOptions> = {},
): Promise<SilentClient> {
  const publishes: IPublishPacket[] = [];
  const waiters: Array<() => void> = [];
  const client = mqtt.connect(`mqtts://${hub.address}:8883`, mqttOptions(hub, cs, extra));
  // Manual acknowledgement that never acknowledges: mqtt.js sends the PUBACK only when
  // handleMessage calls back without an error; with an error it sends none and goes on reading.
  client.handleMessage = (packet, callback) => {
    if (packet.cmd === 'publish') {
      publishes.push(packet);
      for (const w of waiters.splice(0)) w();
    }
    callback(new Error('this test client never acknowledges'));
  };
  client.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('close', () => reject(new Error('closed before CONNACK')));
    }),
    10_000,
    'raw MQTT connect',
  );
  return {
    mqtt: client,
    publishes,
    closed,
    async nth(n, timeoutMs = 15_000) {
      const got = async () => {
        while (publishes.length < n) await new Promise<void>((r) => waiters.push(r));
        return publishes[n - 1]!;
      };
      return withTimeout(got(), timeoutMs, `PUBLISH #${n}`);
    },
    async end() {
      await withTimeout(client.endAsync(true), 5000, 'raw MQTT end').catch(() => undefined);
    },
  };
}

/** `%24.mid` of a C2D topic, decoded. */
export function midOf(p: IPublishPacket): string | undefined {
  const m = /(?:^|[/&])%24\.mid=([^&]*)/.exec(p.topic);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** A TLS socket to the hub's MQTT port. */
export function rawTls(hub: HubProcess): Promise<TLSSocket> {
  return withTimeout(tlsTo(hub), 10_000, `a TLS connection to ${hub.address}:8883`);
}

function tlsTo(hub: HubProcess): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: hub.address,
      port: 8883,
      ca: readFileSync(hub.caFile, 'utf8'),
      servername: undefined,
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the socket is closed (by either side); collects what the hub sent. No deadline: await it with withTimeout. */
export function closedWith(s: TLSSocket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (b: Buffer) => chunks.push(b));
  s.on('error', () => undefined);
  return new Promise((resolve) => s.once('close', () => resolve(Buffer.concat(chunks))));
}
