/** What one commit collects while its operations run: the time, the limits, and what to signal. */
import type { FeedbackRecord } from '@ferry/common';
import type { QueuePolicy } from '../types.js';

export class CommitContext {
  readonly woken = new Set<string>();
  /** Some op appended feedback records: try to make batches before the commit ends. */
  feedbackAppended = false;
  feedbackAvailable = false;
  /** Records appended by this commit, for CommitResult.feedbackRecords. */
  readonly feedbackRecords: FeedbackRecord[] = [];

  constructor(
    readonly now: number,
    readonly policy: QueuePolicy,
  ) {}
}
