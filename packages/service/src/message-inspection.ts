/**
 * Ferry's extensions for what happened to a device's messages (Azure IoT Hub has neither): the kept
 * dead letters (list, requeue, delete; the hub's docs/dead-letters.md) and a message's history
 * (the hub's docs/message-history.md), over REST with a ServiceConnect token. Times are ms since the
 * epoch, as elsewhere in this package.
 */
import { FerryError, type HistoryStepFields, type HistoryStepKind } from '@ferry/common';

export type { HistoryStepKind };

import type { HttpsReply } from '@ferry/common/client';

/** Why a message was dead-lettered (its feedback status). */
export type DeadLetterReason = 'Rejected' | 'Expired' | 'DeliveryCountExceeded' | 'Purged';

/** A dead-lettered message the hub keeps: as it was, why and when it went. */
export interface DeadLetter {
  sequenceNumber: number;
  messageId: string | null;
  correlationId: string | null;
  userId: string | null;
  contentType: string | null;
  contentEncoding: string | null;
  ack: string | null;
  reason: DeadLetterReason;
  /** Its delivery count when it went. */
  deliveryCount: number;
  enqueuedTimeUtc: number;
  expiryTimeUtc: number;
  deadLetteredTimeUtc: number;
  properties: Record<string, string>;
  bodySize: number;
  /** The first bytes of the body (the whole body when it is short). */
  bodyPreview: Buffer;
}

/** One step of a message's story. */
export interface HistoryStep extends HistoryStepFields {
  kind: HistoryStepKind;
  /** ms since the epoch */
  time: number;
}

/** One copy of the message (a requeued dead letter is a second copy, with a new sequence number). */
export interface HistoryCopy {
  sequenceNumber: number;
  /** True once the copy has left the queue. */
  ended: boolean;
  steps: HistoryStep[];
}

export interface MessageHistory {
  deviceId: string;
  messageId: string;
  /** By sequence number; [] when the hub keeps nothing for this id. */
  copies: HistoryCopy[];
}

/** A REST call of the ServiceClient (its token, target and retry policy). */
export type Call = (method: string, path: string) => Promise<HttpsReply>;

function deviceIdOf(deviceId: unknown, what: string): string {
  if (typeof deviceId !== 'string' || deviceId === '')
    throw new FerryError('ArgumentNull', `${what}() needs a device id`);
  return encodeURIComponent(deviceId);
}

function sequenceNumberOf(seq: unknown, what: string): number {
  if (!Number.isSafeInteger(seq) || (seq as number) < 1) {
    throw new FerryError(
      'ArgumentInvalid',
      `${what}() needs a sequence number (a whole number from 1); got ${String(seq)}`,
    );
  }
  return seq as number;
}

function json(reply: HttpsReply): unknown {
  return JSON.parse(reply.body.toString('utf8'));
}

const time = (iso: string): number => Date.parse(iso);

export async function listDeadLetters(call: Call, deviceId: string, top = 100): Promise<DeadLetter[]> {
  const id = deviceIdOf(deviceId, 'listDeadLetters');
  if (!Number.isInteger(top) || top < 1 || top > 1000) {
    throw new FerryError('ArgumentInvalid', `listDeadLetters() top must be a whole number from 1 to 1000; got ${top}`);
  }
  const rows = json(await call('GET', `/devices/${id}/messages/deviceBound/deadLetters?top=${top}`)) as Array<
    Record<string, unknown>
  >;
  return rows.map((r) => ({
    sequenceNumber: r.sequenceNumber as number,
    messageId: (r.messageId as string | null) ?? null,
    correlationId: (r.correlationId as string | null) ?? null,
    userId: (r.userId as string | null) ?? null,
    contentType: (r.contentType as string | null) ?? null,
    contentEncoding: (r.contentEncoding as string | null) ?? null,
    ack: (r.ack as string | null) ?? null,
    reason: r.reason as DeadLetterReason,
    deliveryCount: r.deliveryCount as number,
    enqueuedTimeUtc: time(r.enqueuedTimeUtc as string),
    expiryTimeUtc: time(r.expiryTimeUtc as string),
    deadLetteredTimeUtc: time(r.deadLetteredTimeUtc as string),
    properties: (r.properties as Record<string, string>) ?? {},
    bodySize: r.bodySize as number,
    bodyPreview: Buffer.from((r.bodyPreview as string) ?? '', 'base64'),
  }));
}

export async function requeueDeadLetter(call: Call, deviceId: string, sequenceNumber: number): Promise<number> {
  const id = deviceIdOf(deviceId, 'requeueDeadLetter');
  const seq = sequenceNumberOf(sequenceNumber, 'requeueDeadLetter');
  const reply = await call('POST', `/devices/${id}/messages/deviceBound/deadLetters/${seq}/requeue`);
  return (json(reply) as { sequenceNumber: number }).sequenceNumber;
}

export async function deleteDeadLetter(call: Call, deviceId: string, sequenceNumber: number): Promise<void> {
  const id = deviceIdOf(deviceId, 'deleteDeadLetter');
  const seq = sequenceNumberOf(sequenceNumber, 'deleteDeadLetter');
  await call('DELETE', `/devices/${id}/messages/deviceBound/deadLetters/${seq}`);
}

export async function messageHistory(call: Call, deviceId: string, messageId: string): Promise<MessageHistory> {
  const id = deviceIdOf(deviceId, 'messageHistory');
  if (typeof messageId !== 'string' || messageId === '') {
    throw new FerryError('ArgumentNull', 'messageHistory() needs a message id');
  }
  const path = `/devices/${id}/messages/deviceBound/history?messageId=${encodeURIComponent(messageId)}`;
  const h = json(await call('GET', path)) as {
    deviceId: string;
    messageId: string;
    copies: Array<{ sequenceNumber: number; ended: boolean; steps: Array<HistoryStep & { timeUtc?: string }> }>;
  };
  return {
    deviceId: h.deviceId,
    messageId: h.messageId,
    copies: h.copies.map((c) => ({
      sequenceNumber: c.sequenceNumber,
      ended: c.ended,
      steps: c.steps.map(({ timeUtc, ...s }) => ({ ...s, time: time(timeUtc ?? '') })),
    })),
  };
}
