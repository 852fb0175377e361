/**
 * @ferry/device: a device's side of cloud-to-device messaging with Ferry or Azure IoT Hub.
 *
 * ```ts
 * const client = DeviceClient.fromConnectionString(cs, { transport: 'amqp', ca });
 * const message = await client.receive({ timeoutMs: 30_000 });
 * if (message) await client.complete(message);
 * ```
 */
export { type ErrorName, FerryError, isFerryError } from '@ferry/common';
export {
  type BackoffOptions,
  ExponentialBackoffWithJitter,
  isTransient,
  noRetry,
  type RetryPolicy,
} from '@ferry/common/client';
export {
  type ConnectionState,
  DEFAULT_RECEIVE_TIMEOUT_MS,
  DeviceClient,
  type DeviceClientEvents,
  type ReceiveOptions,
} from './device-client.js';
export { DEVICE_TRANSPORTS, type DeviceClientOptions, type DeviceTransportName } from './options.js';
export type { ReceivedMessage, Settlement } from './transport.js';
