/**
 * A telemetry message -> the event the log keeps: IoT Hub's system property names, the
 * application properties as sent, and the hub's enrichment (the `iothub-connection-*` properties
 * and `iothub-message-source`). `iothub-enqueuedtime` is the event's enqueued time, added where it
 * is read. The size check is IoT Hub's: body plus property names and values, 256 KB.
 */
import { FerryError } from '@ferry/common';
import type { NewEvent } from '../store/event-log.js';
import { MAX_TELEMETRY_BYTES, type TelemetryMessage, type TelemetrySender } from './types.js';

export function telemetrySize(m: TelemetryMessage): number {
  let n = m.body.length;
  for (const v of [m.messageId, m.correlationId, m.userId, m.contentType, m.contentEncoding]) {
    if (v !== undefined) n += Buffer.byteLength(v);
  }
  for (const k in m.properties) n += Buffer.byteLength(k) + Buffer.byteLength(m.properties[k]!);
  return n;
}

/** Throws FerryError MessageTooLarge past 256 KB. */
export function checkTelemetrySize(m: TelemetryMessage): void {
  const size = telemetrySize(m);
  if (size > MAX_TELEMETRY_BYTES) {
    throw new FerryError(
      'MessageTooLarge',
      `The message is ${size} bytes (body and properties); a device-to-cloud message may have at most ${MAX_TELEMETRY_BYTES}`,
    );
  }
}

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
    },
    body: m.body,
  };
}
