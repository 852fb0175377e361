/**
 * Each C2D message's story on SQLite (docs/message-history.md), cheap on the hot path: a pending
 * copy's steps are a text column of its c2d_messages row (history-steps.ts), written by the INSERT
 * or UPDATE its step already runs; when the copy leaves the queue (completed, rejected, expired,
 * purged, dead-lettered) its steps become ONE row, with the time it ended. A requeued dead letter's
 * `requeued` step is appended to its ended copy's row. Reads merge the ended copies' rows with the
 * pending row's steps. Messages without a message id are not recorded (nobody can ask for them):
 * their steps column stays NULL, and `NULL || step` is NULL.
 *
 * An ended copy is appended to c2d_history_recent, which has no index, so the hot path writes only
 * at the end of a table. Every MOVE_AT copies they move, in the order they ended, to c2d_history,
 * indexed by device and message id for reads: one statement in the commit of the copy that filled
 * the batch, writing each page of the index at most once instead of a page at a random place per
 * copy. Reads scan the recent table (at most MOVE_AT rows and what the retention left of them).
 *
 * In both tables rowid order is the order the copies ended: the scheduler drops the head (c2d_history
 * first) while it is past the retention (no index on the end time). Should the clock step back, a
 * row ends up behind a later end and goes a little late; reads never show it late.
 * Synchronous; runs inside the store's commit.
 */
import type Database from 'better-sqlite3';
import type { StepDetail } from '../history-rows.js';
import type { HistoryEvent, HistoryEventKind, QueuePolicy } from '../types.js';
import type { CommitContext } from './commit-context.js';
import { eventsOfSteps, StepTexts } from './history-steps.js';

/** Ended copies kept in c2d_history_recent before they move to c2d_history. */
export const MOVE_AT = 4096;

interface CopyRow {
  seq: number;
  steps: string;
}

/** The statements each of the two tables of ended copies answers alike. */
class EndedCopies {
  readonly head;
  readonly removeThrough;
  readonly first;
  readonly append;
  readonly find;

  constructor(db: Database.Database, table: string) {
    this.head = db.prepare<[number], { id: number; ended_at: number }>(
      `SELECT id, ended_at FROM ${table} ORDER BY id LIMIT ?`,
    );
    this.removeThrough = db.prepare<[number]>(`DELETE FROM ${table} WHERE id <= ?`);
    this.first = db.prepare<[], { ended_at: number }>(`SELECT ended_at FROM ${table} ORDER BY id LIMIT 1`);
    this.append = db.prepare<[string, string, string, number]>(
      `UPDATE ${table} SET steps = steps || ? WHERE device_id = ? AND message_id = ? AND seq = ?`,
    );
    this.find = db.prepare<[string, string, number], CopyRow>(
      `SELECT seq, steps FROM ${table} WHERE device_id = ? AND message_id = ? AND ended_at > ?`,
    );
  }

  /** Removes the head rows past `cutoff`, at most `limit`; how many, and whether a later one stopped it. */
  expire(cutoff: number, limit: number): { removed: number; stopped: boolean } {
    const rows = this.head.all(limit);
    let due = 0;
    while (due < rows.length && rows[due]!.ended_at <= cutoff) due++;
    if (due > 0) this.removeThrough.run(rows[due - 1]!.id);
    return { removed: due, stopped: due < rows.length };
  }
}

export class HistoryTable {
  private readonly endFromRow;
  private readonly endFromLockedRow;
  private readonly insertEnded;
  private readonly moveRecent;
  private readonly clearRecent;
  private readonly kept: EndedCopies;
  private readonly recent: EndedCopies;
  private readonly pending;
  /** The steps' texts, their repeated parts made once (a commit's steps share one time). */
  private readonly texts = new StepTexts();

  constructor(db: Database.Database) {
    const insert = 'INSERT INTO c2d_history_recent (device_id, message_id, seq, ended_at, steps)';
    this.endFromRow = db.prepare<[number, string, number]>(
      `${insert} SELECT device_id, message_id, seq, ?, steps || ? FROM c2d_messages WHERE id = ? AND steps IS NOT NULL`,
    );
    // A quiet complete (message-queue.ts completesQuietly) reads no row: the step's delivery count
    // is the row's, closed here. The same conditions as its DELETE.
    this.endFromLockedRow = db.prepare<[number, string, number, string, string]>(
      `${insert} SELECT device_id, message_id, seq, ?, steps || ? || delivery_count || ']' FROM c2d_messages
       WHERE id = ? AND lock_token = ? AND device_id = ? AND steps IS NOT NULL`,
    );
    this.insertEnded = db.prepare<[string, string, number, number, string]>(`${insert} VALUES (?, ?, ?, ?, ?)`);
    this.moveRecent = db.prepare(
      `INSERT INTO c2d_history (device_id, message_id, seq, ended_at, steps)
       SELECT device_id, message_id, seq, ended_at, steps FROM c2d_history_recent ORDER BY id`,
    );
    // No WHERE: SQLite drops the table's pages at once. Its rowids then start again from 1.
    this.clearRecent = db.prepare('DELETE FROM c2d_history_recent');
    this.kept = new EndedCopies(db, 'c2d_history');
    this.recent = new EndedCopies(db, 'c2d_history_recent');
    // By the device's queue (at most maxQueueDepth rows): c2d_messages has no message id index.
    this.pending = db.prepare<[string, string], CopyRow>(
      'SELECT seq, steps FROM c2d_messages WHERE device_id = ? AND message_id = ? AND steps IS NOT NULL',
    );
  }

  /** The text of a step for a message's row; '' when it has no message id or history is off. */
  step(
    messageId: string | null | undefined,
    kind: HistoryEventKind,
    deliveryCount: number,
    ctx: CommitContext,
    detail?: StepDetail,
  ): string {
    if (messageId == null || ctx.policy.history.retentionMs <= 0) return '';
    return this.texts.text(kind, ctx.now, deliveryCount, detail);
  }

  /**
   * Before a row leaves c2d_messages: its steps, then `last` (the ending step and what led to it),
   * become the copy's row. Nothing when the row has no steps.
   */
  endCopy(rowId: number, last: string, ctx: CommitContext): void {
    if (last === '') return;
    this.ended(this.endFromRow.run(ctx.now, last, rowId), ctx);
  }

  /** Before a quiet complete deletes the row (same conditions: nothing when the token is wrong). */
  completed(rowId: number, lockToken: string, deviceId: string, ctx: CommitContext): void {
    if (ctx.policy.history.retentionMs <= 0) return;
    const open = this.texts.completedOpen(ctx.now);
    this.ended(this.endFromLockedRow.run(ctx.now, open, rowId, lockToken, deviceId), ctx);
  }

  /** A copy whose row was already deleted (DELETE ... RETURNING its steps). */
  endDeleted(
    deviceId: string,
    messageId: string | null,
    seq: number,
    steps: string | null,
    last: string,
    ctx: CommitContext,
  ): void {
    if (messageId === null || steps === null || last === '') return;
    this.ended(this.insertEnded.run(deviceId, messageId, seq, ctx.now, steps + last), ctx);
  }

  /** A dead letter put back: its ended copy's row gets the step (a row of its own if it is gone). */
  requeued(deviceId: string, messageId: string | undefined, seq: number, step: string, ctx: CommitContext): void {
    if (messageId === undefined || step === '') return;
    if (this.kept.append.run(step, deviceId, messageId, seq).changes > 0) return;
    if (this.recent.append.run(step, deviceId, messageId, seq).changes > 0) return;
    this.ended(this.insertEnded.run(deviceId, messageId, seq, ctx.now, step), ctx);
  }

  /** After an insert into c2d_history_recent: its deadline, and the move once a batch is full. */
  private ended(insert: Database.RunResult, ctx: CommitContext): void {
    if (insert.changes === 0) return;
    ctx.deadline(ctx.now + ctx.policy.history.retentionMs);
    if (Number(insert.lastInsertRowid) >= MOVE_AT) {
      this.moveRecent.run();
      this.clearRecent.run();
    }
  }

  /** The scheduler's batch: the copies whose end is past the retention. `more` when the limit was reached. */
  expireDue(ctx: CommitContext, limit: number): boolean {
    const cutoff = ctx.now - ctx.policy.history.retentionMs;
    const kept = this.kept.expire(cutoff, limit);
    // Every row of c2d_history_recent ended after every row of c2d_history.
    if (kept.stopped || kept.removed === limit) return kept.removed === limit;
    return this.recent.expire(cutoff, limit - kept.removed).removed === limit - kept.removed;
  }

  nextDeadline(policy: QueuePolicy): number | null {
    const t = this.kept.first.get()?.ended_at ?? this.recent.first.get()?.ended_at;
    return t === undefined ? null : t + policy.history.retentionMs;
  }

  messageHistory(deviceId: string, messageId: string, now: number, retentionMs: number): HistoryEvent[] {
    const cutoff = now - retentionMs;
    const copies = [
      ...this.kept.find.all(deviceId, messageId, cutoff),
      ...this.recent.find.all(deviceId, messageId, cutoff),
      ...this.pending.all(deviceId, messageId),
    ];
    copies.sort((a, b) => a.seq - b.seq);
    return copies.flatMap((c) => eventsOfSteps(c.seq, c.steps));
  }
}
