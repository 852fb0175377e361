/**
 * Each C2D message's story on SQLite (docs/message-history.md): one row per step, written by
 * MessageQueue in the transaction of the step it records, so the hot path pays one INSERT per step
 * and no round trip. Messages without a message id are not recorded (nobody can ask for them).
 * A step that ends the copy's life in the queue is `final`; the copy's rows go together once its
 * last final step is past the retention (the scheduler's batches), so a pending copy loses nothing.
 * Synchronous; runs inside the store's commit.
 */
import type Database from 'better-sqlite3';
import { detailJson, FINAL, historyEventOf, type StepDetail, visibleSteps } from '../history-rows.js';
import type { HistoryEvent, HistoryEventKind, QueuePolicy } from '../types.js';
import type { CommitContext } from './commit-context.js';

interface HistoryRow {
  seq: number;
  kind: HistoryEventKind;
  at: number;
  delivery_count: number;
  final: number;
  lock_token: string | null;
  via: string | null;
  detail: string | null;
}

const COLUMNS = 'device_id, message_id, seq, kind, at, delivery_count, final, lock_token, via, detail';

export class HistoryTable {
  private readonly insert;
  private readonly insertFromRow;
  private readonly ended;
  private readonly removeCopy;
  private readonly oldest;
  private readonly list;

  constructor(db: Database.Database) {
    this.insert = db.prepare(`INSERT INTO c2d_history (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    // A complete that reads no row (message-queue.ts completesQuietly): the step from the row itself.
    this.insertFromRow = db.prepare<[number, number, string, string]>(
      `INSERT INTO c2d_history (${COLUMNS}) SELECT device_id, message_id, seq, 'completed', ?, delivery_count, 1,
       NULL, NULL, NULL FROM c2d_messages WHERE id = ? AND lock_token = ? AND device_id = ? AND message_id IS NOT NULL`,
    );
    this.ended = db.prepare<[number, number], { device_id: string; message_id: string; seq: number }>(
      'SELECT device_id, message_id, seq FROM c2d_history WHERE final = 1 AND at <= ? ORDER BY at LIMIT ?',
    );
    this.removeCopy = db.prepare<[string, string, number]>(
      'DELETE FROM c2d_history WHERE device_id = ? AND message_id = ? AND seq = ?',
    );
    this.oldest = db.prepare<[], { t: number | null }>('SELECT MIN(at) AS t FROM c2d_history WHERE final = 1');
    this.list = db.prepare<[string, string], HistoryRow>(
      `SELECT seq, kind, at, delivery_count, final, lock_token, via, detail FROM c2d_history
       WHERE device_id = ? AND message_id = ? ORDER BY seq, id`,
    );
  }

  /** One step of a message (none when it has no message id or history is off). */
  add(
    deviceId: string,
    messageId: string | null | undefined,
    seq: number,
    kind: HistoryEventKind,
    deliveryCount: number,
    ctx: CommitContext,
    detail?: StepDetail,
  ): void {
    const retentionMs = ctx.policy.history.retentionMs;
    if (messageId == null || retentionMs <= 0) return;
    const final = FINAL.has(kind);
    this.insert.run(
      deviceId,
      messageId,
      seq,
      kind,
      ctx.now,
      deliveryCount,
      final ? 1 : 0,
      detail?.lockToken ?? null,
      detail?.via ?? null,
      detailJson(detail),
    );
    if (final) ctx.deadline(ctx.now + retentionMs);
  }

  /** Before a quiet complete deletes the row (same conditions: nothing when the token is wrong). */
  completed(rowId: number, lockToken: string, deviceId: string, ctx: CommitContext): void {
    if (ctx.policy.history.retentionMs <= 0) return;
    if (this.insertFromRow.run(ctx.now, rowId, lockToken, deviceId).changes > 0) {
      ctx.deadline(ctx.now + ctx.policy.history.retentionMs);
    }
  }

  /** The scheduler's batch: copies whose end is past the retention. `more` when the limit was reached. */
  expireDue(ctx: CommitContext, limit: number): boolean {
    const copies = this.ended.all(ctx.now - ctx.policy.history.retentionMs, limit);
    for (const c of copies) this.removeCopy.run(c.device_id, c.message_id, c.seq);
    return copies.length === limit;
  }

  nextDeadline(policy: QueuePolicy): number | null {
    const t = this.oldest.get()?.t ?? null;
    return t === null ? null : t + policy.history.retentionMs;
  }

  messageHistory(deviceId: string, messageId: string, now: number, retentionMs: number): HistoryEvent[] {
    return visibleSteps(this.list.all(deviceId, messageId), now - retentionMs).map(historyEventOf);
  }
}
