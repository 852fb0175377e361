/** The C2D message model shared by the hub, the gateways and the SDKs. */
import { FerryError } from './errors.js';

export type Ack = 'none' | 'positive' | 'negative' | 'full';
export const ACK_VALUES: readonly Ack[] = ['none', 'positive', 'negative', 'full'];

/** What a sender hands the hub. Every field but the body is optional. */
export interface OutgoingMessage {
  messageId?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Unset means 'none' (no feedback); it then appears on no wire. */
  ack?: Ack;
  /** Absolute expiry, ms since the epoch. Unset: now + the hub's default TTL, which appears on no wire. */
  expiryTimeUtc?: number;
  /** Application properties, never modified by the hub. */
  properties?: Record<string, string>;
  body: Buffer;
}

/** A message as it sits in a device queue. */
export interface StoredMessage {
  deviceId: string;
  sequenceNumber: number;
  messageId?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  /**
   * As the sender set it. Unset means 'none' inside the hub (no feedback) and is written on no
   * wire: IoT Hub only shows `iothub-ack` when the sender set it.
   */
  ack?: Ack;
  /** When the message expires, ms since the epoch: the sender's expiry, or now + the hub's default TTL. */
  expiryTimeUtc: number;
  /** True when the sender set no expiry (expiryTimeUtc is the hub's default); such an expiry is written on no wire. */
  defaultExpiry?: boolean;
  /** ms since the epoch */
  enqueuedTimeUtc: number;
  properties: Record<string, string>;
  body: Buffer;
  /** Explicit abandons (plus lock expiries when c2d.countLockExpiry); the first delivery shows 0. */
  deliveryCount: number;
}

/** A leased (Invisible) message handed to a device. */
export interface Delivery extends StoredMessage {
  /** A UUID string, the message's lock. */
  lockToken: string;
  /** ms since the epoch */
  lockedUntil: number;
  /** True when this message was leased before (MQTT DUP). */
  redelivered: boolean;
}

export type FeedbackStatus = 'Success' | 'Expired' | 'DeliveryCountExceeded' | 'Rejected' | 'Purged';

/**
 * The steps of a C2D message's history (a Ferry extension, the hub's docs/message-history.md): the
 * send, each delivery, each return to the queue, and the ways out of it.
 */
export type HistoryStepKind =
  | 'enqueued'
  | 'delivered'
  | 'abandoned'
  | 'released'
  | 'lockExpired'
  | 'completed'
  | 'rejected'
  | 'expired'
  | 'purged'
  | 'deadLettered'
  | 'requeued';

/** What a history step tells beyond its kind and time; the optional fields are on the steps that have them. */
export interface HistoryStepFields {
  /** The delivery count after the step (enqueued: 0). */
  deliveryCount: number;
  /** delivered: the lock token handed out and the protocol that took it (mqtt, amqp, https). */
  lockToken?: string;
  protocol?: string;
  /** enqueued: the shared access policy and the job that sent it; requeuedFrom: the dead letter's sequence number. */
  policy?: string;
  jobId?: string;
  requeuedFrom?: number;
  /** requeued: the new copy's sequence number. */
  requeuedAs?: number;
  /** An ending step whose ack asked for feedback: the record made for it. */
  feedback?: FeedbackRecord;
}

/** One record of a feedback batch, in the JSON shape IoT Hub sends. */
export interface FeedbackRecord {
  originalMessageId: string;
  enqueuedTimeUtc: string;
  statusCode: FeedbackStatus;
  description: string;
  deviceId: string;
  deviceGenerationId: string;
}

/** A leased feedback message: one batch of records. */
export interface FeedbackBatch {
  lockToken: string;
  lockedUntil: number;
  /** ms since the epoch, when the batch was made */
  enqueuedTimeUtc: number;
  deliveryCount: number;
  records: FeedbackRecord[];
}

/** The size IoT Hub meters against the 64 KiB limit: body + system property values + app property names and values. */
export function messageSize(m: OutgoingMessage): number {
  // Field by field, no array of them or of the properties' entries: the hub counts every message it is sent.
  let n = m.body.length + byteLength(m.messageId) + byteLength(m.correlationId) + byteLength(m.userId);
  n += byteLength(m.contentType) + byteLength(m.contentEncoding) + byteLength(m.ack);
  const properties = m.properties;
  if (properties !== undefined) {
    for (const k in properties) {
      if (Object.hasOwn(properties, k)) n += Buffer.byteLength(k) + Buffer.byteLength(properties[k]!);
    }
  }
  return n;
}

function byteLength(v: string | undefined): number {
  return v === undefined ? 0 : Buffer.byteLength(v);
}

/** IoT Hub's limit for one device-to-cloud (telemetry) message: body plus property names and values. */
export const MAX_TELEMETRY_BYTES = 256 * 1024;

/**
 * Throws MessageTooLarge past 256 KB: the hub's check of each telemetry message, and the device
 * SDK's before an MQTT PUBLISH (which the hub could only refuse by closing the connection).
 */
export function checkTelemetrySize(m: Omit<OutgoingMessage, 'ack'>): void {
  const size = messageSize(m);
  if (size > MAX_TELEMETRY_BYTES) {
    throw new FerryError(
      'MessageTooLarge',
      `The message is ${size} bytes (body and properties); a device-to-cloud message may have at most ${MAX_TELEMETRY_BYTES}`,
    );
  }
}
