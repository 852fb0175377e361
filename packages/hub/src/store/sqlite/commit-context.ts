/** What one commit collects while its operations run: the time, the limits, and what to signal. */
import type { QueuePolicy } from '../types.js';

export class CommitContext {
  readonly woken = new Set<string>();
  /** Some op appended feedback records: try to make batches before the commit ends. */
  feedbackAppended = false;
  feedbackAvailable = false;

  constructor(
    readonly now: number,
    readonly policy: QueuePolicy,
  ) {}
}
