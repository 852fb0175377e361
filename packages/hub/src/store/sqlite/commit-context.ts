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
  /** The earliest deadline an op created (CommitResult.earliestDeadline). */
  earliestDeadline: number | null = null;

  constructor(
    readonly now: number,
    readonly policy: QueuePolicy,
  ) {}

  /** An op created a deadline at `at`. */
  deadline(at: number): void {
    if (this.earliestDeadline === null || at < this.earliestDeadline) this.earliestDeadline = at;
  }
}
