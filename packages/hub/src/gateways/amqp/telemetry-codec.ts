/**
 * AMQP telemetry -> TelemetryMessage. A device sends one AMQP message per transfer, or a batch
 * (message format 0x80013700, as the C SDK's and the .NET SDK's sendEventBatch send it): an
 * outer message whose data sections each hold one whole encoded AMQP message. Pure functions
 * over rhea's decoder.
 */
import { FerryError } from '@ferry/common';
import rhea, { type Message } from 'rhea';
import type { TelemetryMessage } from '../../telemetry/types.js';
import { bodyBytes, idToString, optionalString, propertyValue, timestampToMs } from './message-codec.js';

const DT_SUBJECT = 'dt-subject';

/** The message format of a batch (Microsoft's vendor format). */
export const BATCH_FORMAT = 0x80013700;

export function decodeTelemetry(msg: Message): TelemetryMessage {
  const properties: Record<string, string> = {};
  for (const [key, raw] of Object.entries(msg.application_properties ?? {})) {
    const value = propertyValue(key, raw);
    if (value !== undefined) properties[key] = value;
  }
  const m: TelemetryMessage = { properties, body: bodyBytes(msg.body) };
  const messageId = idToString(msg.message_id, 'message-id');
  if (messageId !== undefined) m.messageId = messageId;
  const correlationId = idToString(msg.correlation_id, 'correlation-id');
  if (correlationId !== undefined) m.correlationId = correlationId;
  const userId = optionalString(msg.user_id, 'user-id');
  if (userId !== undefined) m.userId = userId;
  const contentType = optionalString(msg.content_type, 'content-type');
  if (contentType !== undefined) m.contentType = contentType;
  const contentEncoding = optionalString(msg.content_encoding, 'content-encoding');
  if (contentEncoding !== undefined) m.contentEncoding = contentEncoding;
  const expiry = timestampToMs(msg.absolute_expiry_time, 'absolute-expiry-time');
  if (expiry !== undefined && expiry !== 0) m.expiryTimeUtc = expiry;
  // The official clients send a message's component (dt-subject) as a message annotation.
  const component = optionalString(msg.message_annotations?.[DT_SUBJECT], DT_SUBJECT);
  if (component !== undefined) m.componentName = component;
  return m;
}

interface BodySection {
  typecode: number;
  content: unknown;
  multiple?: boolean;
}

/** The messages of a batch transfer (its raw payload). Throws FerryError ArgumentInvalid when it is not one. */
export function decodeTelemetryBatch(payload: Buffer): TelemetryMessage[] {
  let outer: Message;
  try {
    outer = rhea.message.decode(payload) as unknown as Message;
  } catch (cause) {
    throw new FerryError('ArgumentInvalid', 'The batch is not an AMQP message', { cause });
  }
  const body = outer.body as BodySection | undefined;
  if (!body || typeof body !== 'object' || body.typecode !== 0x75) {
    throw new FerryError('ArgumentInvalid', 'A batch must hold its messages in data sections');
  }
  const parts = body.multiple ? (body.content as unknown[]) : [body.content];
  return parts.map((part, i) => {
    if (!Buffer.isBuffer(part)) throw new FerryError('ArgumentInvalid', `Batch section ${i} is not binary`);
    let inner: Message;
    try {
      inner = rhea.message.decode(part) as unknown as Message;
    } catch (cause) {
      throw new FerryError('ArgumentInvalid', `Batch section ${i} is not an AMQP message`, { cause });
    }
    return decodeTelemetry(inner);
  });
}
