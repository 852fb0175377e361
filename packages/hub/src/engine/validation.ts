/**
 * The checks a send must pass before it reaches the store (spec §1.5, §2.4, §3.1 and decisions
 * 3-5). Queue depth and the device's existence are checked by the store, inside the transaction.
 */
import {
  ACK_VALUES,
  type Ack,
  FerryError,
  INVALID_EXPIRY_TEXT,
  messageSize,
  type OutgoingMessage,
} from '@ferry/common';
import type { C2dConfig } from '../config/types.js';
import type { NewMessage } from '../store/types.js';

export function validateSend(deviceId: string, m: OutgoingMessage, now: number, c2d: C2dConfig): NewMessage {
  if (typeof deviceId !== 'string' || deviceId === '') throw new FerryError('ArgumentInvalid', 'deviceId is required');
  if (!m || !Buffer.isBuffer(m.body)) throw new FerryError('ArgumentInvalid', 'the message body must be a Buffer');
  const properties = m.properties ?? {};
  // Own keys, as Object.entries gives them, without its array of pairs per message.
  for (const k in properties) {
    if (Object.hasOwn(properties, k) && typeof properties[k] !== 'string') {
      throw new FerryError('ArgumentInvalid', `application property "${k}" must be a string`);
    }
  }
  // Decision 4: an unknown ack value is refused rather than silently treated as none.
  const ack: Ack | undefined = m.ack;
  if (ack !== undefined && !ACK_VALUES.includes(ack)) {
    throw new FerryError(
      'ArgumentInvalid',
      `iothub-ack must be none, positive, negative or full, got "${String(ack)}"`,
    );
  }
  const size = messageSize(m);
  if (size > c2d.maxMessageSize) {
    throw new FerryError('MessageTooLarge', `the message is ${size} bytes; the limit is ${c2d.maxMessageSize}`);
  }
  // Decision 3: an expiry that is not in the future or lies beyond the max TTL is refused.
  let expiry = now + c2d.defaultTtlMs;
  if (m.expiryTimeUtc !== undefined) {
    expiry = m.expiryTimeUtc;
    if (typeof expiry !== 'number' || !Number.isFinite(expiry) || expiry <= now || expiry > now + c2d.maxTtlMs) {
      const given =
        typeof expiry === 'number' && Number.isFinite(expiry) ? new Date(expiry).toISOString() : String(expiry);
      throw new FerryError(
        'InvalidMessageExpiryTime',
        `${INVALID_EXPIRY_TEXT} and at most ${duration(c2d.maxTtlMs)} from now (c2d.maxTtlMs); got ${given}, now is ${new Date(now).toISOString()}`,
      );
    }
  }
  // Issue 13: what the sender did not set stays unset, so no wire shows a default it never chose.
  const out: NewMessage = { deviceId, expiryTimeUtc: expiry, properties: { ...properties }, body: m.body };
  if (ack !== undefined) out.ack = ack;
  if (m.expiryTimeUtc === undefined) out.defaultExpiry = true;
  if (m.messageId !== undefined) out.messageId = m.messageId;
  if (m.correlationId !== undefined) out.correlationId = m.correlationId;
  if (m.userId !== undefined) out.userId = m.userId;
  if (m.contentType !== undefined) out.contentType = m.contentType;
  if (m.contentEncoding !== undefined) out.contentEncoding = m.contentEncoding;
  return out;
}

/** A duration as people write it: "2 days", "1 h", "90 s", "250 ms". */
export function duration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, ' day'],
    [3_600_000, ' h'],
    [60_000, ' min'],
    [1000, ' s'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) {
      const n = ms / size;
      return `${n}${unit}${unit === ' day' && n !== 1 ? 's' : ''}`;
    }
  }
  return `${ms} ms`;
}
