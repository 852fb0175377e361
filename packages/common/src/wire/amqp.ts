/**
 * A C2D message in AMQP terms, as plain objects in rhea's field names (rhea itself stays out of
 * common): what a back end sends on `/messages/devicebound` and what a device receives
 * (official-sdk-wire.md B "Receiving C2D", D.1 "Sending"). Only the fields that are set are written.
 */
import type { Ack, OutgoingMessage } from '../message.js';
import { ACKS, type ReceivedFields, setDefined } from './message-fields.js';

/** The AMQP properties, annotations and application properties of a C2D message; body as bytes. */
export interface AmqpMessageFields {
  to?: string;
  message_id?: unknown;
  correlation_id?: unknown;
  user_id?: unknown;
  content_type?: string;
  content_encoding?: string;
  /** ms since the epoch when written; rhea reads it back as a Date. */
  absolute_expiry_time?: number | Date;
  application_properties?: Record<string, unknown>;
  message_annotations?: Record<string, unknown>;
}

/** The `to` of a service's message: the device id percent-encoded, as azure-iothub writes it. */
export function deviceBoundAddress(deviceId: string): string {
  return `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`;
}

/** A service's message to `deviceId` (the body goes in a data section, which the caller makes). */
export function amqpFromMessage(deviceId: string, m: Omit<OutgoingMessage, 'body'>): AmqpMessageFields {
  const out: AmqpMessageFields = { to: deviceBoundAddress(deviceId), ...amqpFromEvent(m) };
  if (m.ack !== undefined) out.application_properties = { ...out.application_properties, 'iothub-ack': m.ack };
  return out;
}

/** A device's telemetry message on `/devices/{id}/messages/events`: no `to`, no ack (body as for amqpFromMessage). */
export function amqpFromEvent(m: Omit<OutgoingMessage, 'body' | 'ack'>): AmqpMessageFields {
  const out: AmqpMessageFields = {};
  setDefined(out, 'message_id', m.messageId);
  setDefined(out, 'correlation_id', m.correlationId);
  setDefined(out, 'user_id', m.userId === undefined ? undefined : Buffer.from(m.userId, 'utf8'));
  setDefined(out, 'content_type', m.contentType);
  setDefined(out, 'content_encoding', m.contentEncoding);
  setDefined(out, 'absolute_expiry_time', m.expiryTimeUtc);
  out.application_properties = { ...m.properties };
  return out;
}

function bytesToUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** message-id / correlation-id of any AMQP type as a string: a 16-byte binary is a uuid. */
export function amqpIdToString(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return v.length === 16 ? bytesToUuid(v) : v.toString('hex');
  return undefined;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

function ms(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function propertyText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  return text(v);
}

/** What a device receives on `/devices/{id}/messages/devicebound`, as fields. */
export function receivedFromAmqp(msg: AmqpMessageFields): ReceivedFields {
  const properties: Record<string, string> = {};
  let ack: Ack | undefined;
  for (const [key, raw] of Object.entries(msg.application_properties ?? {})) {
    const value = propertyText(raw);
    if (value === undefined) continue;
    if (key === 'iothub-ack' && ACKS.has(value)) ack = value as Ack;
    else properties[key] = value;
  }
  const ann = msg.message_annotations ?? {};
  const m: ReceivedFields = { properties };
  setDefined(m, 'messageId', amqpIdToString(msg.message_id));
  setDefined(m, 'correlationId', amqpIdToString(msg.correlation_id));
  setDefined(m, 'userId', text(msg.user_id));
  setDefined(m, 'contentType', text(msg.content_type));
  setDefined(m, 'contentEncoding', text(msg.content_encoding));
  setDefined(m, 'ack', ack);
  setDefined(m, 'expiryTimeUtc', ms(msg.absolute_expiry_time));
  setDefined(m, 'enqueuedTimeUtc', ms(ann['iothub-enqueuedtime']));
  const seq = ann['x-opt-sequence-number'];
  setDefined(m, 'sequenceNumber', typeof seq === 'number' ? seq : undefined);
  const count = ann['iothub-deliverycount'];
  setDefined(m, 'deliveryCount', typeof count === 'number' ? count : undefined);
  setDefined(m, 'to', text(msg.to));
  return m;
}

interface BodySection {
  typecode: number;
  content: unknown;
  multiple?: boolean;
}

/** The payload bytes of a received AMQP body: data section(s), binary, or a string value. */
export function amqpBodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (typeof body === 'object' && 'typecode' in body && 'content' in body) {
    const section = body as BodySection;
    const parts = section.multiple ? (section.content as unknown[]) : [section.content];
    return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(String(p), 'utf8'))));
  }
  return Buffer.from(JSON.stringify(body), 'utf8');
}
