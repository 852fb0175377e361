/** Delivery feedback batches: what the hub sends on `/messages/serviceBound/feedback` (and over REST). */
import type { FeedbackRecord } from '@ferry/common';

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
