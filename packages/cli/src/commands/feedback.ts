/**
 * `ferry feedback`: what `az iot hub monitor-feedback` shows. Takes one feedback batch from the
 * hub-wide feedback queue over REST, prints its records and completes it (so the hub drops it)
 * unless --no-complete. With --follow it stays connected (AMQP) and prints each batch as it comes.
 * With --device / --message-id it reads the hub's non-consuming feedback view instead
 * (feedback-view.ts): it filters, and takes no record meant for another back end.
 */
import { ExponentialBackoffWithJitter, type FeedbackBatch, type FeedbackRecord } from '@ferry/service';
import { type Parsed, parse, str, usageError } from '../args.js';
import { serviceClient } from '../clients.js';
import { type FeedbackFilter, openFeedbackView } from '../feedback-view.js';
import { explained, type Hints } from '../hub-errors.js';
import type { Io } from '../io.js';
import { poll } from '../poll.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { parseWait } from './message-args.js';
import { formatFeedback } from './message-print.js';

const OPTIONS = {
  ...TARGET_OPTIONS,
  wait: { type: 'string' },
  json: { type: 'boolean' },
  'no-complete': { type: 'boolean' },
  follow: { type: 'boolean' },
  device: { type: 'string' },
  'message-id': { type: 'string' },
} as const;

const HINTS: Hints = {
  IotHubUnauthorizedAccess:
    'Sending, purging and reading feedback need ServiceConnect: use the iothubowner or service connection string.',
  DeviceMessageLockLost:
    "The batch's lock expired (feedback.lockDurationMs, 60 s by default), so the hub offers it again: run `npx ferry feedback` again.",
};

export interface FeedbackArgs {
  values: Parsed['values'];
  waitMs: number;
  json: boolean;
  complete: boolean;
  follow: boolean;
  /** --device / --message-id: read the hub's feedback view (takes nothing) instead of the queue. */
  filter: FeedbackFilter | undefined;
}

export function parseFeedbackArgs(args: string[]): FeedbackArgs {
  const { values } = parse(args, OPTIONS, USAGE.feedback, 0);
  const follow = values.follow === true;
  if (follow && values.wait !== undefined)
    throw usageError('--follow waits for ever; leave out --wait', USAGE.feedback);
  const deviceId = str(values.device);
  const messageId = str(values['message-id']);
  const filter =
    deviceId === undefined && messageId === undefined
      ? undefined
      : { ...(deviceId !== undefined ? { deviceId } : {}), ...(messageId !== undefined ? { messageId } : {}) };
  if (filter && values['no-complete'] !== undefined)
    throw usageError('--device and --message-id never complete a batch; leave out --no-complete', USAGE.feedback);
  return {
    values,
    filter,
    waitMs: parseWait(str(values.wait)),
    json: values.json === true,
    complete: values['no-complete'] !== true,
    follow,
  };
}

function printBatch(io: Io, batch: FeedbackBatch, json: boolean, complete: boolean): void {
  const note = complete
    ? 'Completed the batch: the hub will not offer it again.'
    : `Left the batch locked (lock token ${batch.lockToken}); the hub offers it again when the lock expires (feedback.lockDurationMs, 60 s by default).`;
  if (json) {
    const { complete: _c, abandon: _a, ...fields } = batch;
    const enqueuedTimeUtc =
      batch.enqueuedTimeUtc === undefined ? undefined : new Date(batch.enqueuedTimeUtc).toISOString();
    io.out(JSON.stringify({ ...fields, enqueuedTimeUtc, completed: complete }, null, 2));
    if (!complete) io.err(note);
    return;
  }
  io.out(formatFeedback(batch));
  io.out(note);
}

async function follow(io: Io, args: FeedbackArgs): Promise<number> {
  const target = await resolveTarget(args.values, io);
  const service = serviceClient(target, new ExponentialBackoffWithJitter({ maxAttempts: 1000 }));
  const stop = () => void service.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await explained(() => service.open(), target, HINTS);
    io.err(`Waiting for feedback from ${target.cs.hostName} (Ctrl+C to stop)...`);
    for await (const batch of service.feedback()) {
      if (args.complete) await explained(() => batch.complete(), target, HINTS);
      printBatch(io, batch, args.json, args.complete);
    }
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await service.close();
  }
}

/** What `--device` / `--message-id` asked for, in words. */
function describe(f: FeedbackFilter): string {
  return [
    f.messageId !== undefined ? `message ${f.messageId}` : '',
    f.deviceId !== undefined ? `device ${f.deviceId}` : '',
  ]
    .filter(Boolean)
    .join(' of ');
}

/**
 * Filtered feedback from the hub's non-consuming view: the records the hub made recently, then
 * (with --wait or --follow) new ones as they come. Nothing is taken from the feedback queue.
 */
async function filtered(io: Io, args: FeedbackArgs, filter: FeedbackFilter): Promise<number> {
  const target = await resolveTarget(args.values, io);
  const view = await explained(() => openFeedbackView(target, filter), target, HINTS, filter.deviceId);
  const stop = () => view.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await view.caughtUp;
    const records: FeedbackRecord[] = [];
    const print = (r: FeedbackRecord) => {
      records.push(r);
      if (args.json) io.out(JSON.stringify(r));
      else io.out(`${r.originalMessageId}  ${r.deviceId}  ${r.statusCode}  ${r.description}  ${r.enqueuedTimeUtc}`);
    };
    for (let r = await view.next(0); r; r = await view.next(0)) print(r);
    if (args.follow) {
      io.err(`Following the feedback of ${describe(filter)} (Ctrl+C to stop)...`);
      for (let r = await view.next(2 ** 31 - 1); r; r = await view.next(2 ** 31 - 1)) print(r);
    } else if (records.length === 0 && args.waitMs > 0) {
      io.err(`Waiting up to ${args.waitMs / 1000} s for feedback of ${describe(filter)}...`);
      const r = await view.next(args.waitMs);
      if (r) print(r);
    }
    if (records.length === 0 && !args.json) {
      io.out(
        `No feedback for ${describe(filter)} among the hub's recent records${args.waitMs > 0 ? ` or within ${args.waitMs / 1000} s` : ''}. Feedback is made when the device settles a message sent with --ack; wait for it with --wait 30.`,
      );
    }
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    view.close();
  }
}

export async function feedback(argv: string[], io: Io): Promise<number> {
  const args = parseFeedbackArgs(argv);
  if (args.filter) return filtered(io, args, args.filter);
  if (args.follow) return follow(io, args);
  const { waitMs, json, complete } = args;
  const target = await resolveTarget(args.values, io);
  const service = serviceClient(target);
  try {
    const batch = await explained(
      () =>
        poll(async () => (await service.receiveFeedback()) ?? undefined, {
          waitMs,
          onWaiting: (left) => io.err(`Waiting for feedback (${Math.ceil(left / 1000)} s left, Ctrl+C to stop)...`),
        }),
      target,
      HINTS,
    );
    if (!batch) {
      if (json) io.out('null');
      else {
        io.out(
          waitMs > 0
            ? `No feedback within ${waitMs / 1000} s.`
            : 'No feedback waiting. The hub batches feedback (feedback.batchDelayMs, 15 s by default); wait for it with `npx ferry feedback --wait 30`, or follow it with `npx ferry feedback --follow`.',
        );
      }
      return 0;
    }
    if (complete) await explained(() => batch.complete(), target, HINTS);
    printBatch(io, batch, json, complete);
    return 0;
  } finally {
    await service.close();
  }
}
