/**
 * @ferry/device: a device's side of cloud-to-device messaging with Ferry or Azure IoT Hub.
 *
 * ```ts
 * const client = DeviceClient.fromConnectionString(cs, { transport: 'amqp', ca });
 * await client.sendEvent({ body: JSON.stringify({ temperature: 21.5 }), contentType: 'application/json' });
 * await client.onMethod('reboot', async (req) => ({ status: 200, payload: { rebooting: true } }));
 * const message = await client.receive({ timeoutMs: 30_000 });
 * if (message) await client.complete(message);
 * ```
 */
export { type ErrorName, FerryError, isFerryError, MAX_TELEMETRY_BYTES } from '@ferry/common';
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
export type { MethodHandler, MethodRequest, MethodResponse } from './device-methods.js';
export type { DesiredHandler, DesiredUpdate, DeviceTwin, TwinProperties } from './device-twin.js';
export type { EventMessage } from './events.js';
export { DEVICE_TRANSPORTS, type DeviceClientOptions, type DeviceTransportName } from './options.js';
export type { ReceivedMessage, Settlement } from './transport.js';
