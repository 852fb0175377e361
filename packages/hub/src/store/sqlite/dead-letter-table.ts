/**
 * Kept dead letters on SQLite (docs/dead-letters.md). A message that MessageQueue dead-letters is
 * copied here before its row is deleted, when the policy keeps dead letters; the oldest of a
 * device beyond the cap go at once, those past the retention go with the scheduler's batches.
 * Synchronous; runs inside the store's commit.
 */
import type Database from 'better-sqlite3';
import type { DeadLetter, DeadLetterReason, QueuePolicy } from '../types.js';
import type { CommitContext } from './commit-context.js';
import { type MessageRow, storedMessageOf } from './message-queue.js';

const MESSAGE_COLUMNS = `device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding, ack,
  expiry, default_expiry, enqueued_at, properties, body, delivery_count`;

interface DeadLetterRow extends MessageRow {
  reason: DeadLetterReason;
  dead_lettered_at: number;
}

export class DeadLetterTable {
  private readonly keep;
  private readonly trim;
  private readonly byKey;
  private readonly removeRow;
  private readonly removeOld;
  private readonly oldest;
  private readonly list;

  constructor(db: Database.Database) {
    // The delivery count as it was when the message went (an abandon that dead-letters counts).
    this.keep = db.prepare<[number, string, number, number]>(
      `INSERT OR REPLACE INTO c2d_dead_letters (${MESSAGE_COLUMNS}, reason, dead_lettered_at)
       SELECT device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding, ack, expiry,
         default_expiry, enqueued_at, properties, body, ?, ?, ? FROM c2d_messages WHERE id = ?`,
    );
    this.trim = db.prepare<[string, string, number]>(
      `DELETE FROM c2d_dead_letters WHERE device_id = ? AND id NOT IN
       (SELECT id FROM c2d_dead_letters WHERE device_id = ? ORDER BY id DESC LIMIT ?)`,
    );
    this.byKey = db.prepare<[string, number], DeadLetterRow & { id: number }>(
      `SELECT id, ${MESSAGE_COLUMNS}, reason, dead_lettered_at FROM c2d_dead_letters WHERE device_id = ? AND seq = ?`,
    );
    this.removeRow = db.prepare<[number]>('DELETE FROM c2d_dead_letters WHERE id = ?');
    this.removeOld = db.prepare<[number, number]>(
      `DELETE FROM c2d_dead_letters WHERE id IN
       (SELECT id FROM c2d_dead_letters WHERE dead_lettered_at <= ? ORDER BY dead_lettered_at LIMIT ?)`,
    );
    this.oldest = db.prepare<[], { t: number | null }>('SELECT MIN(dead_lettered_at) AS t FROM c2d_dead_letters');
    this.list = db.prepare<[string, number, number], DeadLetterRow>(
      `SELECT ${MESSAGE_COLUMNS}, reason, dead_lettered_at FROM c2d_dead_letters
       WHERE device_id = ? AND dead_lettered_at > ? ORDER BY id LIMIT ?`,
    );
  }

  /** Before the message's row is deleted: a copy kept, when the policy keeps dead letters. */
  keepRow(rowId: number, deviceId: string, deliveryCount: number, reason: DeadLetterReason, ctx: CommitContext): void {
    const { retentionMs, maxPerDevice } = ctx.policy.deadLetters;
    if (retentionMs <= 0 || maxPerDevice <= 0) return;
    this.keep.run(deliveryCount, reason, ctx.now, rowId);
    this.trim.run(deviceId, deviceId, maxPerDevice);
    ctx.deadline(ctx.now + retentionMs);
  }

  /** The kept dead letter (not past its retention) and its row id; undefined when there is none. */
  find(deviceId: string, seq: number, ctx: CommitContext): (DeadLetter & { rowId: number }) | undefined {
    const row = this.byKey.get(deviceId, seq);
    if (!row || row.dead_lettered_at <= ctx.now - ctx.policy.deadLetters.retentionMs) return undefined;
    return { ...deadLetterOf(row), rowId: row.id };
  }

  remove(rowId: number): void {
    this.removeRow.run(rowId);
  }

  /** Removed (the DELETE route); false when there is none. */
  delete(deviceId: string, seq: number, ctx: CommitContext): boolean {
    const found = this.find(deviceId, seq, ctx);
    if (found) this.removeRow.run(found.rowId);
    return found !== undefined;
  }

  /** The scheduler's batch: those past the retention. `more` when the limit was reached. */
  expireDue(ctx: CommitContext, limit: number): boolean {
    return this.removeOld.run(ctx.now - ctx.policy.deadLetters.retentionMs, limit).changes === limit;
  }

  nextDeadline(policy: QueuePolicy): number | null {
    const t = this.oldest.get()?.t ?? null;
    return t === null ? null : t + policy.deadLetters.retentionMs;
  }

  listDeadLetters(deviceId: string, now: number, retentionMs: number, limit: number): DeadLetter[] {
    return this.list.all(deviceId, now - retentionMs, Math.max(0, Math.floor(limit))).map(deadLetterOf);
  }
}

function deadLetterOf(r: DeadLetterRow): DeadLetter {
  return { ...storedMessageOf(r), reason: r.reason, deadLetteredTimeUtc: r.dead_lettered_at };
}
