/**
 * The ops of a group as ferry_commit reads them (a compact JSON form beside one bytea array of
 * bodies), and its results back as the contract's (queue-sql.ts); the path every group can take.
 */
import type { Delivery, FeedbackRecord } from '@ferry/common';
import { withOptionalFields } from '../rows.js';
import type { QueueOp, QueueOpResult } from '../types.js';

export interface Encoded {
  json: Record<string, unknown>;
  body: Buffer | null;
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new TypeError(`${what} must be a string`);
  return v;
}

/** The compact form ferry_apply reads; throws on a malformed op, which then fails alone. */
export function encode(op: QueueOp): Encoded {
  switch (op.kind) {
    case 'enqueue': {
      const m = op.message;
      if (!Buffer.isBuffer(m.body)) throw new TypeError('the message body must be a Buffer');
      const json = {
        k: 'enqueue',
        d: text(m.deviceId, 'deviceId'),
        messageId: m.messageId ?? null,
        correlationId: m.correlationId ?? null,
        userId: m.userId ?? null,
        contentType: m.contentType ?? null,
        contentEncoding: m.contentEncoding ?? null,
        ack: m.ack ?? null,
        expiry: m.expiryTimeUtc,
        defaultExpiry: m.defaultExpiry === true,
        properties: JSON.stringify(m.properties),
        ...(op.job !== undefined && { job: text(op.job, 'job') }),
        policy: op.origin?.policy ?? null,
      };
      return { json, body: m.body };
    }
    case 'lease':
      return {
        json: { k: 'lease', d: text(op.deviceId, 'deviceId'), max: Math.floor(op.max), protocol: op.protocol ?? null },
        body: null,
      };
    case 'settle':
      return { json: { k: 'settle', d: text(op.deviceId, 'deviceId'), t: op.lockToken, a: op.action }, body: null };
    case 'release':
      return { json: { k: 'release', d: text(op.deviceId, 'deviceId'), t: [...op.lockTokens] }, body: null };
    case 'purge':
      return { json: { k: 'purge', d: text(op.deviceId, 'deviceId') }, body: null };
    case 'expire':
      return { json: { k: 'expire', limit: Math.floor(op.limit) }, body: null };
    case 'requeueDeadLetter':
      return {
        json: {
          k: op.kind,
          d: text(op.deviceId, 'deviceId'),
          seq: Math.floor(op.sequenceNumber),
          expiry: op.expiryTimeUtc,
        },
        body: null,
      };
    case 'deleteDeadLetter':
      return { json: { k: op.kind, d: text(op.deviceId, 'deviceId'), seq: Math.floor(op.sequenceNumber) }, body: null };
    case 'leaseFeedback':
      return { json: { k: 'leaseFeedback' }, body: null };
    case 'settleFeedback':
      return { json: { k: 'settleFeedback', t: op.lockToken, a: op.action }, body: null };
  }
}

export function decode(r: Record<string, unknown>, op: QueueOp): QueueOpResult {
  if (r.ok === false && r.error === 'ServerError') {
    return { ok: false, error: 'ServerError', cause: new Error(`${String(r.cause)} (SQLSTATE ${String(r.sqlstate)})`) };
  }
  if (op.kind === 'lease' && r.ok) {
    return { ok: true, deliveries: (r.deliveries as DeliveryRow[]).map((d) => toDelivery(op.deviceId, d)) };
  }
  if (op.kind === 'leaseFeedback' && r.ok && r.batch) {
    const b = r.batch as {
      lockToken: string;
      lockedUntil: number;
      enqueuedTimeUtc: number;
      deliveryCount: number;
      records: string;
    };
    return { ok: true, batch: { ...b, records: JSON.parse(b.records) as FeedbackRecord[] } };
  }
  // Every other result already has the contract's shape.
  return r as unknown as QueueOpResult;
}

interface DeliveryRow {
  seq: number;
  messageId: string | null;
  correlationId: string | null;
  userId: string | null;
  contentType: string | null;
  contentEncoding: string | null;
  ack: NonNullable<Delivery['ack']> | null;
  expiry: number;
  defaultExpiry: boolean;
  enqueuedAt: number;
  properties: string;
  body: string;
  deliveryCount: number;
  lockToken: string;
  lockedUntil: number;
  redelivered: boolean;
}

function toDelivery(deviceId: string, r: DeliveryRow): Delivery {
  const d: Delivery = {
    deviceId,
    sequenceNumber: r.seq,
    expiryTimeUtc: r.expiry,
    enqueuedTimeUtc: r.enqueuedAt,
    properties: JSON.parse(r.properties) as Record<string, string>,
    body: Buffer.from(r.body, 'base64'),
    deliveryCount: r.deliveryCount,
    lockToken: r.lockToken,
    lockedUntil: r.lockedUntil,
    redelivered: r.redelivered,
  };
  return withOptionalFields(d, r);
}
