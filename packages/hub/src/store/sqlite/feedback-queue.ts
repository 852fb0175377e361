/**
 * The hub-wide feedback queue on SQLite: records wait in feedback_pending until they are batched
 * (batchMaxRecords, or batchDelay after the last batch, 0 = at once); each batch is one feedback
 * message with its own lock, TTL and delivery count. Synchronous; runs inside the store's commit.
 *
 * Delivery count of a feedback message: it rises on abandon and on lock expiry (the Service Bus
 * rule the feedback queue follows, so a receiver that crashes repeatedly cannot loop forever);
 * reaching feedback.maxDeliveryCount drops the batch.
 */
import { randomUUID } from 'node:crypto';
import type { FeedbackBatch, FeedbackRecord } from '@ferry/common';
import type Database from 'better-sqlite3';
import type { LeaseFeedbackResult, QueuePolicy, SettleAction, SettleFeedbackResult } from '../types.js';
import type { CommitContext } from './commit-context.js';

const LAST_BATCH_KEY = 'feedback.lastBatchAt';

interface BatchRow {
  id: number;
  created_at: number;
  records: string;
  delivery_count: number;
}

export class FeedbackQueue {
  private readonly insertPending;
  private readonly countPending;
  private readonly takePending;
  private readonly deletePendingUpTo;
  private readonly insertBatch;
  private readonly getState;
  private readonly setState;
  private readonly expiredBatches;
  private readonly lockExpiredBatches;
  private readonly deleteBatch;
  private readonly unlockBatch;
  private readonly oldestAvailable;
  private readonly lockBatch;
  private readonly byToken;
  private readonly minExpiry;
  private readonly minLockedUntil;

  constructor(db: Database.Database) {
    this.insertPending = db.prepare('INSERT INTO feedback_pending (device_id, record) VALUES (?, ?)');
    this.countPending = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM feedback_pending');
    this.takePending = db.prepare<[number], { id: number; record: string }>(
      'SELECT id, record FROM feedback_pending ORDER BY id LIMIT ?',
    );
    this.deletePendingUpTo = db.prepare('DELETE FROM feedback_pending WHERE id <= ?');
    this.insertBatch = db.prepare('INSERT INTO feedback_batches (created_at, expiry, records) VALUES (?, ?, ?)');
    this.getState = db.prepare<[string], { value: number }>('SELECT value FROM hub_state WHERE key = ?');
    this.setState = db.prepare(
      'INSERT INTO hub_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.expiredBatches = db.prepare<[number, number], { id: number }>(
      'SELECT id FROM feedback_batches WHERE expiry <= ? ORDER BY expiry LIMIT ?',
    );
    this.lockExpiredBatches = db.prepare<[number, number], { id: number; delivery_count: number }>(
      'SELECT id, delivery_count FROM feedback_batches WHERE lock_token IS NOT NULL AND locked_until <= ? ORDER BY locked_until LIMIT ?',
    );
    this.deleteBatch = db.prepare('DELETE FROM feedback_batches WHERE id = ?');
    this.unlockBatch = db.prepare(
      'UPDATE feedback_batches SET lock_token = NULL, locked_until = NULL, delivery_count = ? WHERE id = ?',
    );
    this.oldestAvailable = db.prepare<[], BatchRow>(
      'SELECT id, created_at, records, delivery_count FROM feedback_batches WHERE lock_token IS NULL ORDER BY id LIMIT 1',
    );
    this.lockBatch = db.prepare('UPDATE feedback_batches SET lock_token = ?, locked_until = ? WHERE id = ?');
    this.byToken = db.prepare<[string], { id: number; delivery_count: number }>(
      'SELECT id, delivery_count FROM feedback_batches WHERE lock_token = ?',
    );
    this.minExpiry = db.prepare<[], { t: number | null }>('SELECT MIN(expiry) AS t FROM feedback_batches');
    this.minLockedUntil = db.prepare<[], { t: number | null }>(
      'SELECT MIN(locked_until) AS t FROM feedback_batches WHERE lock_token IS NOT NULL',
    );
  }

  append(record: FeedbackRecord, ctx: CommitContext): void {
    this.insertPending.run(record.deviceId, JSON.stringify(record));
    if (!ctx.feedbackAppended) {
      // The batch is due at once, or batchDelay after the last one (a lower bound: a batch made
      // in this commit moves it later).
      const last = ctx.policy.feedback.batchDelayMs === 0 ? undefined : this.lastBatchAt();
      ctx.deadline(last === undefined ? ctx.now : last + ctx.policy.feedback.batchDelayMs);
    }
    ctx.feedbackAppended = true;
    ctx.feedbackRecords.push(record);
  }

  /** Full batches at once; the remainder when batchDelay has passed since the last batch. */
  makeBatches(ctx: CommitContext): number {
    const { batchMaxRecords: max, batchDelayMs: delay } = ctx.policy.feedback;
    let pending = this.countPending.get()!.n;
    let made = 0;
    let last = this.lastBatchAt();
    while (pending > 0) {
      const full = pending >= max;
      if (!full && delay > 0 && last !== undefined && ctx.now < last + delay) break;
      const n = Math.min(pending, max);
      this.batch(n, ctx);
      pending -= n;
      made++;
      last = ctx.now;
    }
    if (made > 0) {
      this.setState.run(LAST_BATCH_KEY, ctx.now);
      ctx.feedbackAvailable = true;
    }
    return made;
  }

  private batch(n: number, ctx: CommitContext): void {
    const rows = this.takePending.all(n);
    const lastRow = rows[rows.length - 1];
    if (!lastRow) return;
    this.deletePendingUpTo.run(lastRow.id);
    const body = `[${rows.map((r) => r.record).join(',')}]`;
    this.insertBatch.run(ctx.now, ctx.now + ctx.policy.feedback.ttlMs, body);
    ctx.deadline(ctx.now + ctx.policy.feedback.ttlMs);
  }

  private lastBatchAt(): number | undefined {
    return this.getState.get(LAST_BATCH_KEY)?.value;
  }

  /** TTL expiries (dropped even when locked) and lock expiries; returns how many were handled. */
  expireDue(ctx: CommitContext, limit: number): { handled: number; more: boolean } {
    const expired = this.expiredBatches.all(ctx.now, limit);
    for (const b of expired) this.deleteBatch.run(b.id);
    const locks = this.lockExpiredBatches.all(ctx.now, limit);
    for (const b of locks) this.returnOrDrop(b, ctx);
    return { handled: expired.length + locks.length, more: expired.length === limit || locks.length === limit };
  }

  lease(ctx: CommitContext): LeaseFeedbackResult {
    this.expireAll(ctx);
    const row = this.oldestAvailable.get();
    if (!row) return { ok: true, batch: null };
    const lockToken = randomUUID();
    const lockedUntil = ctx.now + ctx.policy.feedback.lockDurationMs;
    this.lockBatch.run(lockToken, lockedUntil, row.id);
    ctx.deadline(lockedUntil);
    const batch: FeedbackBatch = {
      lockToken,
      lockedUntil,
      enqueuedTimeUtc: row.created_at,
      deliveryCount: row.delivery_count,
      records: JSON.parse(row.records) as FeedbackRecord[],
    };
    return { ok: true, batch };
  }

  settle(lockToken: string, action: SettleAction, ctx: CommitContext): SettleFeedbackResult {
    this.expireAll(ctx);
    const row = this.byToken.get(lockToken);
    if (!row) return { ok: false, error: 'DeviceMessageLockLost' };
    if (action === 'abandon') {
      this.returnOrDrop(row, ctx);
    } else {
      // complete removes it; reject dead-letters it, and a dead feedback message is simply gone.
      this.deleteBatch.run(row.id);
    }
    return { ok: true };
  }

  /** Due feedback work before a lease or settle, so its result never depends on the scheduler. */
  private expireAll(ctx: CommitContext): void {
    while (this.expireDue(ctx, 1000).more) {}
  }

  private returnOrDrop(row: { id: number; delivery_count: number }, ctx: CommitContext): void {
    const count = row.delivery_count + 1;
    if (count >= ctx.policy.feedback.maxDeliveryCount) {
      this.deleteBatch.run(row.id);
    } else {
      this.unlockBatch.run(count, row.id);
      ctx.feedbackAvailable = true;
    }
  }

  nextDeadline(policy: QueuePolicy): number | null {
    const times: number[] = [];
    const e = this.minExpiry.get()?.t;
    if (e != null) times.push(e);
    const l = this.minLockedUntil.get()?.t;
    if (l != null) times.push(l);
    if (this.countPending.get()!.n > 0) {
      const last = this.lastBatchAt();
      // A batch is due at once when none was made yet or batching is immediate.
      times.push(last === undefined || policy.feedback.batchDelayMs === 0 ? 0 : last + policy.feedback.batchDelayMs);
    }
    return times.length ? Math.min(...times) : null;
  }
}
