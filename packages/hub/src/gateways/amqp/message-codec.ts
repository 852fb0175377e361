/**
 * AMQP message <-> Ferry message model. Pure functions over rhea's decoded messages; the AMQP
 * encoding itself is rhea's. See official-sdk-wire.md B ("Receiving C2D") and D.1, and
 * c2d-semantics.md 3.3 (feedback) and 8.2 (C2D over AMQP).
 */
import {
  ACK_VALUES,
  type Ack,
  type Delivery,
  type FeedbackBatch,
  FerryError,
  type OutgoingMessage,
} from '@ferry/common';
import rhea, { type Message } from 'rhea';
import { deviceIdFromTo } from './addresses.js';

export const FEEDBACK_CONTENT_TYPE = 'application/vnd.microsoft.iothub.feedback.json';

function argumentInvalid(message: string): FerryError {
  return new FerryError('ArgumentInvalid', message);
}

export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new FerryError('ServerError', `Lock token is not a UUID: ${uuid}`);
  return Buffer.from(hex, 'hex');
}

export function bytesToUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A delivery tag as a map key (rhea gives Buffers for peer tags, ours are Buffers too). */
export function tagKey(tag: Buffer | string): string {
  return Buffer.isBuffer(tag) ? tag.toString('hex') : Buffer.from(tag).toString('hex');
}

/**
 * message-id / correlation-id of any AMQP type -> string. rhea decodes string as string, ulong as
 * number, and both uuid and binary as a Buffer: a 16-byte Buffer is taken as a uuid (what the
 * official SDKs send for UUID-shaped ids), any other binary as lower-case hex.
 */
export function idToString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return v.length === 16 ? bytesToUuid(v) : v.toString('hex');
  throw argumentInvalid(`${field} has an unsupported AMQP type`);
}

export function timestampToMs(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : Number.NaN;
  if (!Number.isFinite(ms)) throw argumentInvalid(`${field} is not a valid timestamp`);
  return ms;
}

export function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  throw argumentInvalid(`${field} must be a string`);
}

export function propertyValue(key: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  throw argumentInvalid(`application property "${key}" must be a string, number or boolean`);
}

interface BodySection {
  typecode: number;
  content: unknown;
  multiple?: boolean;
}

function isSection(b: unknown): b is BodySection {
  return typeof b === 'object' && b !== null && 'typecode' in b && 'content' in b;
}

/** The payload bytes: data section(s), or an amqp-value holding binary or a string. */
export function bodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (isSection(body)) {
    if (body.typecode === 0x75) {
      // One data section (what every SDK sends): copied as concat would, without an array and a closure.
      if (!body.multiple && Buffer.isBuffer(body.content)) return Buffer.from(body.content);
      const parts = body.multiple ? (body.content as unknown[]) : [body.content];
      if (parts.every((p) => Buffer.isBuffer(p))) return Buffer.concat(parts as Buffer[]);
    }
    throw argumentInvalid('The message body must be a data section');
  }
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  throw argumentInvalid('The message body must be a data section');
}

/** A service's C2D message (sender link to /messages/devicebound) -> device id + OutgoingMessage. Throws FerryError. */
export function decodeServiceMessage(msg: Message): { deviceId: string; message: OutgoingMessage } {
  const deviceId = deviceIdFromTo(msg.to);
  const app: Record<string, unknown> = msg.application_properties ?? {};
  const properties: Record<string, string> = {};
  let ack: Ack | undefined;
  for (const [key, raw] of Object.entries(app)) {
    if (key === 'iothub-ack') {
      const value = propertyValue(key, raw);
      if (value === undefined) continue;
      if (!(ACK_VALUES as readonly string[]).includes(value)) {
        throw argumentInvalid(`iothub-ack must be one of ${ACK_VALUES.join(', ')}; got "${value.slice(0, 40)}"`);
      }
      ack = value as Ack;
      continue;
    }
    const value = propertyValue(key, raw);
    if (value !== undefined) properties[key] = value;
  }
  const message: OutgoingMessage = { body: bodyBytes(msg.body), properties };
  const messageId = idToString(msg.message_id, 'message-id');
  if (messageId !== undefined) message.messageId = messageId;
  const correlationId = idToString(msg.correlation_id, 'correlation-id');
  if (correlationId !== undefined) message.correlationId = correlationId;
  const userId = optionalString(msg.user_id, 'user-id');
  if (userId !== undefined) message.userId = userId;
  const contentType = optionalString(msg.content_type, 'content-type');
  if (contentType !== undefined) message.contentType = contentType;
  const contentEncoding = optionalString(msg.content_encoding, 'content-encoding');
  if (contentEncoding !== undefined) message.contentEncoding = contentEncoding;
  const expiry = timestampToMs(msg.absolute_expiry_time, 'absolute-expiry-time');
  // 0 is what some clients send for "not set".
  if (expiry !== undefined && expiry !== 0) message.expiryTimeUtc = expiry;
  if (ack !== undefined) message.ack = ack;
  return { deviceId, message };
}

/** A leased C2D message -> the AMQP message a device receives (official-sdk-wire.md B, c2d-semantics.md 8.2). */
export function encodeDelivery(d: Delivery): Message {
  const msg: Message = {
    body: rhea.message.data_section(d.body),
    to: `/devices/${d.deviceId}/messages/deviceBound`,
    message_annotations: {
      'iothub-enqueuedtime': new Date(d.enqueuedTimeUtc),
      'x-opt-sequence-number': rhea.types.wrap_long(d.sequenceNumber),
      'iothub-deliverycount': rhea.types.wrap_int(d.deliveryCount),
    },
    application_properties: d.ack === undefined ? { ...d.properties } : { ...d.properties, 'iothub-ack': d.ack },
  };
  // Only what the sender set (issue 13): no default expiry, no default ack.
  if (!d.defaultExpiry) msg.absolute_expiry_time = new Date(d.expiryTimeUtc);
  if (d.messageId !== undefined) msg.message_id = d.messageId;
  if (d.correlationId !== undefined) msg.correlation_id = d.correlationId;
  if (d.userId !== undefined) msg.user_id = Buffer.from(d.userId, 'utf8') as unknown as string; // binary on the wire
  if (d.contentType !== undefined) msg.content_type = d.contentType;
  if (d.contentEncoding !== undefined) msg.content_encoding = d.contentEncoding;
  return msg;
}

/** A leased feedback batch -> one feedback message (c2d-semantics.md 3.3: the C# SDK needs every field). */
export function encodeFeedback(batch: FeedbackBatch, hubName: string): Message {
  return {
    body: rhea.message.data_section(Buffer.from(JSON.stringify(batch.records), 'utf8')),
    content_type: FEEDBACK_CONTENT_TYPE,
    user_id: Buffer.from(hubName, 'utf8') as unknown as string,
    message_id: batch.lockToken,
    message_annotations: { 'iothub-enqueuedtime': new Date(batch.enqueuedTimeUtc) },
  };
}
