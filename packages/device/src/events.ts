/** Device-to-cloud telemetry as the app gives it, and as the transports send it. */
import { FerryError, type OutgoingMessage } from '@ferry/common';

/** A telemetry message. Only `body` is required; what is not set is not sent. */
export interface EventMessage {
  body: Buffer | Uint8Array | string;
  messageId?: string;
  correlationId?: string;
  userId?: string;
  /** e.g. `application/json`; with `contentEncoding: 'utf-8'` IoT Hub's routing can read the body. */
  contentType?: string;
  contentEncoding?: string;
  /** Absolute expiry (Date or ms since the epoch). */
  expiry?: Date | number;
  /** Application properties. */
  properties?: Record<string, string>;
}

/** What the transports send: the body as bytes, the expiry in ms. */
export type OutgoingEvent = Omit<OutgoingMessage, 'ack'>;

export function toOutgoingEvent(m: EventMessage): OutgoingEvent {
  if (typeof m !== 'object' || m === null || m.body === undefined || m.body === null) {
    throw new FerryError('ArgumentNull', 'sendEvent() needs a message with a body');
  }
  const body = typeof m.body === 'string' ? Buffer.from(m.body, 'utf8') : Buffer.from(m.body);
  const event: OutgoingEvent = { body, properties: { ...m.properties } };
  for (const key of ['messageId', 'correlationId', 'userId', 'contentType', 'contentEncoding'] as const) {
    const v = m[key];
    if (v !== undefined) event[key] = v;
  }
  if (m.expiry !== undefined) event.expiryTimeUtc = m.expiry instanceof Date ? m.expiry.getTime() : m.expiry;
  return event;
}
