/** Delivery feedback batches: what the hub sends on `/messages/serviceBound/feedback` (and over REST). */
import { type FeedbackRecord, FerryError } from '@ferry/common';
import {
  type AmqpConnection,
  connectionLost,
  errorFromAmqp,
  type RetryPolicy,
  realSleep,
  withRetry,
} from '@ferry/common/client';
import type { Message, Receiver } from 'rhea';

export type { FeedbackRecord, FeedbackStatus } from '@ferry/common';

/** One feedback batch. Complete it when its records are handled, or the hub offers it again. */
export interface FeedbackBatch {
  records: FeedbackRecord[];
  /** ms since the epoch, when the hub made the batch (when it said). */
  enqueuedTimeUtc?: number;
  /** Identifies the batch for complete() and abandon(). */
  lockToken: string;
  /** The hub drops the batch. */
  complete(): Promise<void>;
  /** The hub offers the batch again. */
  abandon(): Promise<void>;
}

/** The records of a batch body (a JSON array); a body that is not one gives no records. */
export function parseRecords(body: Buffer): FeedbackRecord[] {
  try {
    const records = JSON.parse(body.toString('utf8')) as unknown;
    return Array.isArray(records) ? (records as FeedbackRecord[]) : [];
  } catch {
    return [];
  }
}

const FEEDBACK = '/messages/serviceBound/feedback';

/** What the feedback and event iterators need of the ServiceClient. */
export interface FeedbackSource {
  /** The open AMQP connection (opened and retried as the policy says). */
  connection(): Promise<AmqpConnection>;
  retry: RetryPolicy;
  isClosed(): boolean;
  /** `wake` is called when the connection is lost or the client closes; returns the unregistration. */
  onWake(wake: () => void): () => void;
  host: string;
}

/**
 * After a lost link or connection: waits as the retry policy says, or throws the error when it
 * says not to retry (a refusal such as Unauthorized is raised at once).
 */
export async function backOff(src: FeedbackSource, attempt: number, linkError: FerryError | undefined): Promise<void> {
  const err = linkError ?? connectionLost(src.host);
  const delay = src.retry.nextDelayMs(attempt, err);
  if (delay === undefined) throw err;
  await realSleep(delay);
}

function batchOf(msg: Message, receiver: Receiver, settle: (how: 'accept' | 'release') => void): FeedbackBatch {
  const enqueued = msg.message_annotations?.['iothub-enqueuedtime'];
  let settled = false;
  const once = async (how: 'accept' | 'release') => {
    if (settled) return;
    if (!receiver.is_open()) {
      throw new FerryError(
        'DeviceMessageLockLost',
        'The connection that delivered this batch is gone; the hub offers it again',
      );
    }
    settled = true;
    settle(how);
  };
  const body = Buffer.isBuffer(msg.body) ? msg.body : Buffer.from((msg.body as { content?: Buffer })?.content ?? []);
  return {
    records: parseRecords(body),
    ...(enqueued instanceof Date ? { enqueuedTimeUtc: enqueued.getTime() } : {}),
    lockToken: String(msg.message_id ?? ''),
    complete: () => once('accept'),
    abandon: () => once('release'),
  };
}

/**
 * Feedback batches as they come, until the client closes: one credit at a time, so a batch is
 * only locked when the app asks for the next; the link is attached again after a loss.
 */
export async function* feedbackBatches(src: FeedbackSource): AsyncGenerator<FeedbackBatch, void, undefined> {
  const queue: FeedbackBatch[] = [];
  let wake: (() => void) | undefined;
  const signal = () => wake?.();
  const unregister = src.onWake(signal);
  try {
    let attempt = 0;
    while (!src.isClosed()) {
      let linkError: FerryError | undefined;
      const connection = await src.connection();
      const receiver = await withRetry(
        () => connection.openReceiver({ source: { address: FEEDBACK }, autoaccept: false, credit_window: 0 }),
        src.retry,
        realSleep,
        src.isClosed,
      );
      receiver.on('message', (ctx) => {
        const delivery = ctx.delivery!;
        queue.push(batchOf(ctx.message!, receiver, (how) => delivery[how]()));
        signal();
      });
      receiver.on('receiver_close', (ctx) => {
        const error = ctx.receiver?.error as { condition?: unknown; description?: unknown } | undefined;
        if (error?.condition) linkError = errorFromAmqp(error);
        signal();
      });
      while (!src.isClosed() && receiver.is_open() && connection.isOpen) {
        const batch = queue.shift();
        if (batch) {
          attempt = 0;
          yield batch;
          continue;
        }
        // rhea keeps the credit left on the link in `credit` (not in its typings).
        if (((receiver as unknown as { credit: number }).credit ?? 0) < 1) receiver.add_credit(1);
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      while (queue.length > 0) yield queue.shift()!; // already here: let the app see them before reconnecting
      if (src.isClosed()) break;
      await backOff(src, ++attempt, linkError);
    }
  } finally {
    unregister();
  }
}
