/** The official device client over HTTPS (azure-iot-device + azure-iot-device-http), with an inbox to await messages. */
import { readFileSync } from 'node:fs';
import type { Client, Message } from 'azure-iot-device';
// CommonJS packages: their named exports are not visible to ESM, so take them off the default export.
import deviceSdk from 'azure-iot-device';
import deviceHttp from 'azure-iot-device-http';
import type { HubProcess } from '../harness.js';
import { Inbox } from './inbox.js';
import { withTimeout } from './wait.js';

/** Poll period in seconds; the SDK accepts fractions (setInterval(interval * 1000)). */
const POLL_S = 0.25;

export interface HttpDevice {
  readonly client: Client;
  /** The next message the SDK emitted, in order. */
  next(timeoutMs?: number): Promise<Message>;
  /** Stops polling (removes the `message` listener), so raw receives see the queue undisturbed. */
  stopReceiving(): void;
  close(): Promise<void>;
}

export async function openHttpDevice(hub: HubProcess, deviceConnectionString: string): Promise<HttpDevice> {
  const client = deviceSdk.Client.fromConnectionString(deviceConnectionString, deviceHttp.Http);
  // setOptions resolves on HTTP only when http.receivePolicy is present (official-sdk-wire.md C, G.10).
  await withTimeout(
    client.setOptions({ ca: readFileSync(hub.caFile, 'utf8'), http: { receivePolicy: { interval: POLL_S } } }),
    5000,
    'device setOptions',
  );
  const inbox = new Inbox<Message>();
  const onMessage = inbox.push;
  client.on('message', onMessage);
  // Polling errors never reach the app on HTTP (official-sdk-wire.md G.14); keep the process alive.
  client.on('error', () => {});
  return {
    client,
    next: (timeoutMs = 10_000) => inbox.next(timeoutMs, 'a C2D message on the HTTP device client'),
    stopReceiving() {
      client.removeListener('message', onMessage);
    },
    async close() {
      client.removeListener('message', onMessage);
      await withTimeout(client.close(), 5000, 'device close').catch(() => undefined);
    },
  };
}

/** The value of application property `name` as the HTTP transport exposes it: key `iothub-app-<lower-cased name>`. */
export function appProperty(m: Message, name: string): string | undefined {
  const v = m.properties.getValue(`iothub-app-${name.toLowerCase()}`);
  return v === undefined ? undefined : String(v);
}
