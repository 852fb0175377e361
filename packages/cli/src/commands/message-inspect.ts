/**
 * `ferry message dead-letters|requeue|history`: Ferry's extensions for what happened to a
 * device's messages (docs/dead-letters.md, docs/message-history.md), as the service (ServiceConnect).
 */

import { isFerryError } from '@ferry/common';
import type { DeadLetter, HistoryStep, MessageHistory, ServiceClient } from '@ferry/service';
import { type Parsed, parse, str, usageError } from '../args.js';
import { serviceClient } from '../clients.js';
import { explained, type Hints } from '../hub-errors.js';
import type { Io } from '../io.js';
import { type HubTarget, resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { shellArg } from '../wire-text.js';

const HINTS: Hints = {
  IotHubUnauthorizedAccess:
    'Dead letters and message history need ServiceConnect: use the iothubowner or service connection string.',
};

const LIST_OPTIONS = { ...TARGET_OPTIONS, top: { type: 'string' }, json: { type: 'boolean' } } as const;
const REQUEUE_OPTIONS = { ...TARGET_OPTIONS, all: { type: 'boolean' } } as const;
const HISTORY_OPTIONS = { ...TARGET_OPTIONS, json: { type: 'boolean' } } as const;

function positional(positionals: string[], i: number, what: string, command: string): string {
  const v = positionals[i];
  if (!v) throw usageError(`message ${command} needs ${what}`, USAGE.message);
  return v;
}

async function asService<T>(
  values: Parsed['values'],
  io: Io,
  deviceId: string,
  op: (s: ServiceClient, t: HubTarget) => Promise<T>,
): Promise<T> {
  const target = await resolveTarget(values, io);
  const service = serviceClient(target);
  try {
    return await explained(() => op(service, target), target, HINTS, deviceId);
  } finally {
    await service.close();
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function deadLetterLine(d: DeadLetter): string {
  const id = d.messageId === null ? '(no message id)' : d.messageId;
  return `${String(d.sequenceNumber).padStart(6)}  ${d.reason.padEnd(21)}  ${iso(d.deadLetteredTimeUtc)}  ${id}  (${d.bodySize} bytes, delivered ${d.deliveryCount}×)`;
}

export async function deadLetters(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, LIST_OPTIONS, USAGE.message, 1);
  const deviceId = positional(positionals, 0, 'a device id', 'dead-letters');
  const topText = str(values.top);
  const top = topText === undefined ? 100 : Number(topText);
  if (!Number.isInteger(top) || top < 1 || top > 1000)
    throw usageError(`--top must be a whole number from 1 to 1000, got ${topText}`, USAGE.message);
  const letters = await asService(values, io, deviceId, (s) => s.listDeadLetters(deviceId, top));
  if (values.json === true) {
    io.out(
      JSON.stringify(
        letters.map((d) => ({ ...d, bodyPreview: d.bodyPreview.toString('base64') })),
        null,
        2,
      ),
    );
    return 0;
  }
  if (letters.length === 0) {
    io.out(`No dead letters kept for ${deviceId} (kept c2d.deadLetterRetentionMs, 1 day by default).`);
    return 0;
  }
  io.out(`   seq  reason                 dead-lettered             message id`);
  for (const d of letters) io.out(deadLetterLine(d));
  io.out(`Put one back with \`npx ferry message requeue ${shellArg(deviceId)} SEQ\` (or --all).`);
  return 0;
}

export async function requeue(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, REQUEUE_OPTIONS, USAGE.message, 2);
  const deviceId = positional(positionals, 0, 'a device id', 'requeue');
  const all = values.all === true;
  if (all === (positionals[1] !== undefined))
    throw usageError('message requeue needs a sequence number or --all (not both)', USAGE.message);
  if (!all) {
    const seq = Number(positionals[1]);
    if (!Number.isSafeInteger(seq) || seq < 1)
      throw usageError(`the sequence number must be a whole number from 1, got ${positionals[1]}`, USAGE.message);
    const back = await asService(values, io, deviceId, (s) => s.requeueDeadLetter(deviceId, seq));
    io.out(`Requeued dead letter ${seq} of ${deviceId} as message ${back}.`);
    return 0;
  }
  return asService(values, io, deviceId, async (service) => {
    const letters = await service.listDeadLetters(deviceId, 1000);
    let done = 0;
    for (const d of letters) {
      try {
        const back = await service.requeueDeadLetter(deviceId, d.sequenceNumber);
        done++;
        io.err(`[${done}/${letters.length}] ${d.sequenceNumber} -> ${back}  ${d.messageId ?? ''}`);
      } catch (err) {
        if (!isFerryError(err) || err.errorName !== 'DeviceMaximumQueueDepthExceeded') throw err;
        io.err(
          `ferry: the queue of ${deviceId} is full after ${done} of ${letters.length}; the rest are kept. Let the device take messages, then run this again.`,
        );
        return 1;
      }
    }
    io.out(`Requeued ${done} dead letter${done === 1 ? '' : 's'} of ${deviceId}.`);
    return 0;
  });
}

/** What a step says beyond its kind. */
function stepDetail(s: HistoryStep): string {
  const parts: string[] = [];
  if (s.policy) parts.push(`sent with policy ${s.policy}`);
  if (s.jobId) parts.push(`by job ${s.jobId}`);
  if (s.requeuedFrom !== undefined) parts.push(`requeued from dead letter ${s.requeuedFrom}`);
  if (s.protocol) parts.push(`over ${s.protocol}`);
  if (s.lockToken) parts.push(`lock token ${s.lockToken}`);
  if (s.kind !== 'enqueued' && s.kind !== 'delivered') parts.push(`delivery count ${s.deliveryCount}`);
  if (s.requeuedAs !== undefined) parts.push(`back in the queue as ${s.requeuedAs}`);
  if (s.feedback) parts.push(`feedback ${s.feedback.statusCode} made at ${s.feedback.enqueuedTimeUtc}`);
  return parts.join(', ');
}

/** The timeline: each copy, each step with its time and the time since the copy was enqueued. */
export function formatHistory(h: MessageHistory): string {
  const n = h.copies.length;
  const lines = [`Message ${h.messageId} of ${h.deviceId}: ${n} cop${n === 1 ? 'y' : 'ies'}`];
  for (const copy of h.copies) {
    lines.push('', `sequence number ${copy.sequenceNumber}${copy.ended ? '' : ' (still in the queue)'}`);
    const start = copy.steps[0]?.time ?? 0;
    for (const s of copy.steps) {
      const since = `+${((s.time - start) / 1000).toFixed(3)}s`;
      lines.push(`  ${iso(s.time)}  ${since.padStart(12)}  ${s.kind.padEnd(12)}  ${stepDetail(s)}`.trimEnd());
    }
  }
  return lines.join('\n');
}

export async function history(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, HISTORY_OPTIONS, USAGE.message, 2);
  const deviceId = positional(positionals, 0, 'a device id', 'history');
  const messageId = positional(positionals, 1, 'a message id', 'history');
  const h = await asService(values, io, deviceId, (s) => s.messageHistory(deviceId, messageId));
  if (values.json === true) io.out(JSON.stringify(h, null, 2));
  else if (h.copies.length === 0)
    io.out(
      `No history kept for message ${messageId} of ${deviceId}: it is kept c2d.historyRetentionMs (by default feedback.ttlMs, 1 h) after a message ends, and only for messages with a message id.`,
    );
  else io.out(formatHistory(h));
  return 0;
}
