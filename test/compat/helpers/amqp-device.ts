/** AMQP connections with rhea (the library under the official clients), for tests that write what the SDK would not. */
import { readFileSync } from 'node:fs';
import { parseHubConnectionString } from '@ferry/common';
import rhea, { type Connection, type ConnectionOptions, type EventContext } from 'rhea';
import type { HubProcess } from '../harness.js';
import { deviceSas } from './auth.js';
import { withTimeout } from './wait.js';

/** A rhea client connection to the hub over TLS on 5671 (never reconnecting), open; `extra` adds connection options. */
export async function amqpConnection(hub: HubProcess, extra: Record<string, unknown> = {}): Promise<Connection> {
  const conn = rhea.create_container().connect({
    host: hub.address,
    port: 5671,
    transport: 'tls',
    ca: readFileSync(hub.caFile, 'utf8'),
    servername: hub.address,
    reconnect: false,
    ...extra,
  } as ConnectionOptions);
  for (const ev of ['error', 'connection_error', 'sender_error', 'receiver_error', 'protocol_error'])
    conn.on(ev, () => {});
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      conn.once('connection_open', () => resolve());
      conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected before open')));
    }),
    10_000,
    'AMQP open',
  );
  return conn;
}

/** One AMQP connection as the device (SASL PLAIN `{id}@sas.{hub}` with its SAS token). */
export function amqpDeviceConnection(hub: HubProcess, deviceCs: string, deviceId: string): Promise<Connection> {
  const hubName = parseHubConnectionString(hub.ownerConnectionString).hostName.split('.')[0];
  return amqpConnection(hub, { username: `${deviceId}@sas.${hubName}`, password: deviceSas(deviceCs) });
}
