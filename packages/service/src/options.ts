/** The options of ServiceClient.fromConnectionString, checked once: unknown keys are refused by name. */
import { FerryError } from '@ferry/common';
import type { RetryPolicy } from '@ferry/common/client';

export type ServiceTransportName = 'amqp' | 'amqp-ws';
export const SERVICE_TRANSPORTS: readonly ServiceTransportName[] = ['amqp', 'amqp-ws'];

export interface ServiceClientOptions {
  /** How send() and feedback() reach the hub; default 'amqp'. Registry, purge and receiveFeedback() use HTTPS. */
  transport?: ServiceTransportName;
  /** PEM of the CA(s) that signed the hub's certificate; given, it replaces the system's CAs (Node's rule) (a Ferry hub's `<data-dir>/tls/ca.pem`). */
  ca?: string | Buffer;
  /** How to retry transient failures; default ExponentialBackoffWithJitter(). `noRetry` disables it. */
  retry?: RetryPolicy;
  /** The AMQP port when not the standard one (5671; 443 for amqp-ws). */
  port?: number;
  /** The HTTPS port when not 443 (registry, purge). */
  httpsPort?: number;
  /** Lifetime of the SAS tokens, seconds (default 3600); renewed at three quarters of it. */
  tokenLifetimeS?: number;
}

const KEYS = ['transport', 'ca', 'retry', 'port', 'httpsPort', 'tokenLifetimeS'];

export function checkOptions(
  options: ServiceClientOptions,
): ServiceClientOptions & { transport: ServiceTransportName } {
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key))
      throw new FerryError('ArgumentInvalid', `Unknown ServiceClient option "${key}"; known: ${KEYS.join(', ')}`);
  }
  const transport = options.transport ?? 'amqp';
  if (!SERVICE_TRANSPORTS.includes(transport)) {
    throw new FerryError(
      'ArgumentInvalid',
      `transport must be one of ${SERVICE_TRANSPORTS.join(', ')}; got "${String(transport)}"`,
    );
  }
  for (const key of ['port', 'httpsPort', 'tokenLifetimeS'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new FerryError('ArgumentInvalid', `${key} must be a whole number above 0; got ${String(v)}`);
    }
  }
  return { ...options, transport };
}
