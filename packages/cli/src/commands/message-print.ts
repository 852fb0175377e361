/** How `ferry message receive` and `ferry feedback` show what they got: readable, or JSON for scripts. */
import type { ReceivedMessage as SdkMessage, Settlement } from '@ferry/device';
import type { FeedbackBatch } from '@ferry/service';
import { table } from '../table.js';
import { bodyText, shellArg } from '../wire-text.js';

/** A message as the device SDK gives it, and whose it is. */
export type ReceivedMessage = SdkMessage & { deviceId: string };

const LABEL_WIDTH = 17;

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function field(label: string, value: string): string {
  const [first, ...rest] = value.split('\n');
  const pad = ' '.repeat(2 + LABEL_WIDTH);
  return [`  ${label.padEnd(LABEL_WIDTH)}${first}`, ...rest.map((l) => `${pad}${l}`)].join('\n');
}

export function formatMessage(m: ReceivedMessage): string {
  const body = bodyText(m.body);
  const props = Object.entries(m.properties).map(([k, v]) => `${k}=${v}`);
  const lines = [
    `Message for ${m.deviceId}`,
    field('message id', m.messageId ?? '(none)'),
    field('correlation id', m.correlationId ?? '(none)'),
    field('ack', m.ack ?? 'none'),
    field(
      'expiry',
      // Like IoT Hub, the hub tells the device only an expiry the sender set; its default still applies.
      iso(m.expiryTimeUtc) ??
        "(none set by the sender; the hub's default applies: c2d.defaultTtlMs, 1 h after enqueued)",
    ),
    field('enqueued', iso(m.enqueuedTimeUtc) ?? '(unknown)'),
    field('delivery count', String(m.deliveryCount ?? 0)),
  ];
  if (m.sequenceNumber !== undefined) lines.push(field('sequence number', String(m.sequenceNumber)));
  if (m.userId !== undefined) lines.push(field('user id', m.userId));
  if (m.contentType !== undefined) lines.push(field('content type', m.contentType));
  if (m.contentEncoding !== undefined) lines.push(field('content encoding', m.contentEncoding));
  lines.push(field('properties', props.length > 0 ? props.join('\n') : '(none)'));
  lines.push(field('lock token', m.lockToken));
  const size = `${m.body.length} byte${m.body.length === 1 ? '' : 's'}`;
  lines.push(field('body size', body.encoding === 'base64' ? `${size}, not text: shown as base64` : size));
  lines.push(field('body', body.text));
  return lines.join('\n');
}

export function messageJson(m: ReceivedMessage, settled: Settlement | undefined): Record<string, unknown> {
  const body = bodyText(m.body);
  const { body: _raw, ...fields } = m;
  return {
    ...fields,
    ack: m.ack ?? 'none',
    deliveryCount: m.deliveryCount ?? 0,
    expiryTimeUtc: iso(m.expiryTimeUtc),
    enqueuedTimeUtc: iso(m.enqueuedTimeUtc),
    body: body.text,
    bodyEncoding: body.encoding,
    settled: settled ?? null,
  };
}

/** What became of the message, and how to settle it when it was left locked. */
export function settlementNote(m: ReceivedMessage, settled: Settlement | undefined): string {
  switch (settled) {
    case 'complete':
      return 'Completed: removed from the queue.';
    case 'reject':
      return 'Rejected: dead-lettered, never delivered again.';
    case 'abandon':
      return `Abandoned: back in the queue, offered again with delivery count ${(m.deliveryCount ?? 0) + 1}.`;
    default: {
      const args = `${shellArg(m.deviceId)} ${m.lockToken}`;
      return [
        'Left locked; the hub offers it again when the lock expires (c2d.lockTimeoutMs, 60 s by default).',
        'Settle it before then with one of:',
        `  npx ferry message complete ${args}`,
        `  npx ferry message reject ${args}`,
        `  npx ferry message abandon ${args}`,
      ].join('\n');
    }
  }
}

export function formatFeedback(batch: Pick<FeedbackBatch, 'records' | 'enqueuedTimeUtc'>): string {
  const n = batch.records.length;
  const about = [batch.enqueuedTimeUtc ? `enqueued ${iso(batch.enqueuedTimeUtc)}` : undefined].filter(
    (s) => s !== undefined,
  );
  const rows = batch.records.map((r) => [
    r.originalMessageId,
    r.deviceId,
    r.statusCode,
    r.description,
    r.enqueuedTimeUtc,
  ]);
  return [
    `Feedback batch of ${n} record${n === 1 ? '' : 's'}${about.length > 0 ? ` (${about.join(', ')})` : ''}:`,
    table(['ORIGINAL MESSAGE ID', 'DEVICE ID', 'STATUS', 'DESCRIPTION', 'ENQUEUED'], rows),
  ].join('\n');
}
