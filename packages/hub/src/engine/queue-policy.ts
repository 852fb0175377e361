/**
 * The store's QueuePolicy (what every commit is judged by: depth, delivery count, lock, dead
 * letters, history, feedback batches) from the hub's C2D and feedback settings. Frozen: the engine
 * hands the same object to every commit. The store probes in bench/ start from it too.
 */
import type { C2dConfig, FeedbackConfig } from '../config/types.js';
import type { QueuePolicy } from '../store/types.js';

export function queuePolicyOf(c2d: C2dConfig, f: FeedbackConfig): QueuePolicy {
  return Object.freeze({
    maxQueueDepth: c2d.maxQueueDepth,
    maxDeliveryCount: c2d.maxDeliveryCount,
    countLockExpiry: c2d.countLockExpiry,
    lockTimeoutMs: c2d.lockTimeoutMs,
    deadLetters: Object.freeze({
      retentionMs: c2d.deadLetterRetentionMs,
      maxPerDevice: c2d.maxDeadLettersPerDevice,
    }),
    history: Object.freeze({ retentionMs: c2d.historyRetentionMs ?? f.ttlMs }),
    feedback: Object.freeze({
      batchMaxRecords: f.batchMaxRecords,
      batchDelayMs: f.batchDelayMs,
      lockDurationMs: f.lockDurationMs,
      ttlMs: f.ttlMs,
      maxDeliveryCount: f.maxDeliveryCount,
    }),
  });
}
