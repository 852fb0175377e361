/**
 * A telemetry message -> the event the log keeps: IoT Hub's system property names, the
 * application properties as sent, and the hub's enrichment (the `iothub-connection-*` properties
 * and `iothub-message-source`). `iothub-enqueuedtime` is the event's enqueued time, added where it
 * is read. The size check is IoT Hub's: body plus property names and values, 256 KB.
 */
import type { NewEvent } from '../store/event-log.js';
import type { TelemetryMessage, TelemetrySender } from './types.js';

/** Throws FerryError MessageTooLarge past 256 KB (one rule with the device SDK's, in @ferry/common). */
export { checkTelemetrySize } from '@ferry/common';

export function toEvent(
  sender: TelemetrySender,
  authType: string,
  generationId: string,
  partition: number,
  m: TelemetryMessage,
): NewEvent {
  const system: Record<string, string> = {};
  if (m.messageId !== undefined) system['message-id'] = m.messageId;
  if (m.correlationId !== undefined) system['correlation-id'] = m.correlationId;
  if (m.userId !== undefined) system['user-id'] = m.userId;
  if (m.contentType !== undefined) system['content-type'] = m.contentType;
  if (m.contentEncoding !== undefined) system['content-encoding'] = m.contentEncoding;
  if (m.expiryTimeUtc !== undefined) system['absolute-expiry-time'] = new Date(m.expiryTimeUtc).toISOString();
  return {
    partition,
    deviceId: sender.deviceId,
    system,
    properties: { ...m.properties },
    annotations: {
      'iothub-connection-device-id': sender.deviceId,
      'iothub-connection-auth-method': JSON.stringify({
        scope: sender.scope,
        type: authType,
        issuer: 'iothub',
        acceptingIpFilterRule: null,
      }),
      'iothub-connection-auth-generation-id': generationId,
      'iothub-message-source': 'Telemetry',
      ...(m.componentName === undefined ? {} : { 'dt-subject': m.componentName }),
    },
    body: m.body,
  };
}
