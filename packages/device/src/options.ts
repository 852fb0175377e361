/** The options of DeviceClient.fromConnectionString, checked once: unknown keys are refused by name. */
import { FerryError } from '@ferry/common';
import type { RetryPolicy } from '@ferry/common/client';

export type DeviceTransportName = 'mqtt' | 'mqtt-ws' | 'amqp' | 'amqp-ws' | 'https';
export const DEVICE_TRANSPORTS: readonly DeviceTransportName[] = ['mqtt', 'mqtt-ws', 'amqp', 'amqp-ws', 'https'];

export interface DeviceClientOptions {
  /** Default 'mqtt'. */
  transport?: DeviceTransportName;
  /** PEM of the CA(s) that signed the hub's certificate; given, it replaces the system's CAs (Node's rule) (a Ferry hub's `<data-dir>/tls/ca.pem`). */
  ca?: string | Buffer;
  /** How to retry transient failures and reconnect; default ExponentialBackoffWithJitter(). `noRetry` disables it. */
  retry?: RetryPolicy;
  /** The hub's port when not the standard one (8883 MQTT, 5671 AMQP, 443 HTTPS and WebSockets). */
  port?: number;
  /** Lifetime of the SAS tokens made from the key, seconds (default 3600); each is renewed at three quarters of it. */
  tokenLifetimeS?: number;
  /** HTTPS: how often messages() and the message handler ask the hub (default 1000 ms). */
  pollIntervalMs?: number;
  /** MQTT: seconds between keep-alive pings (default 60). */
  keepaliveS?: number;
}

const KEYS = ['transport', 'ca', 'retry', 'port', 'tokenLifetimeS', 'pollIntervalMs', 'keepaliveS'];

export const DEFAULT_PORTS: Readonly<Record<DeviceTransportName, number>> = {
  mqtt: 8883,
  'mqtt-ws': 443,
  amqp: 5671,
  'amqp-ws': 443,
  https: 443,
};

export function checkOptions(
  options: DeviceClientOptions,
): Required<Pick<DeviceClientOptions, 'transport'>> & DeviceClientOptions {
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key))
      throw new FerryError('ArgumentInvalid', `Unknown DeviceClient option "${key}"; known: ${KEYS.join(', ')}`);
  }
  const transport = options.transport ?? 'mqtt';
  if (!DEVICE_TRANSPORTS.includes(transport)) {
    throw new FerryError(
      'ArgumentInvalid',
      `transport must be one of ${DEVICE_TRANSPORTS.join(', ')}; got "${String(transport)}"`,
    );
  }
  for (const key of ['port', 'tokenLifetimeS', 'pollIntervalMs', 'keepaliveS'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new FerryError('ArgumentInvalid', `${key} must be a whole number above 0; got ${String(v)}`);
    }
  }
  return { ...options, transport };
}
