/**
 * The store's read-only queries on SQLite (InspectionStore): a page of devices, a peek at one
 * device's queue, hub-wide queue totals. Plain SELECTs; nothing here writes or applies deadlines.
 */
import type Database from 'better-sqlite3';
import type { DevicePageQuery, PendingMessage } from '../types.js';
import { type MessageRow, storedMessageOf } from './message-queue.js';

interface PeekRow extends MessageRow {
  lock_token: string | null;
  locked_until: number | null;
}

/** LIKE with `\` as the escape character, so `%` and `_` in the search text match themselves. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class InspectionQueries {
  private readonly page;
  private readonly peek;
  private readonly totals;
  private readonly feedbackRecords;

  constructor(db: Database.Database) {
    // device_id > '' holds for every id, so one statement serves the first page and the next ones.
    this.page = db.prepare<[{ after: string; like: string | null; limit: number }], { device_id: string }>(
      `SELECT device_id FROM devices WHERE device_id > @after
       AND (@like IS NULL OR device_id LIKE @like ESCAPE '\\') ORDER BY device_id LIMIT @limit`,
    );
    this.peek = db.prepare<[string, number, number], PeekRow>(
      `SELECT device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding, ack, expiry,
       default_expiry, enqueued_at, properties, body, delivery_count, lock_token, locked_until
       FROM c2d_messages WHERE device_id = ? AND expiry > ? ORDER BY seq LIMIT ?`,
    );
    this.totals = db.prepare<[{ now: number }], { total: number; invisible: number | null }>(
      `SELECT COUNT(*) AS total, SUM(lock_token IS NOT NULL AND locked_until > @now) AS invisible
       FROM c2d_messages WHERE expiry > @now`,
    );
    this.feedbackRecords = db.prepare<[number], { n: number }>(
      `SELECT (SELECT COUNT(*) FROM feedback_pending)
       + (SELECT COALESCE(SUM(json_array_length(records)), 0) FROM feedback_batches WHERE expiry > ?) AS n`,
    );
  }

  /** The ids of one page; the store reads the records with its registry statements. */
  devicePageIds(q: DevicePageQuery): string[] {
    const like = q.idContains ? likePattern(q.idContains) : null;
    return this.page
      .all({ after: q.afterDeviceId ?? '', like, limit: Math.max(0, Math.floor(q.limit)) })
      .map((r) => r.device_id);
  }

  peekMessages(deviceId: string, now: number, limit: number): PendingMessage[] {
    return this.peek.all(deviceId, now, Math.max(0, Math.floor(limit))).map((r) => toPending(r, now));
  }

  queueTotals(now: number): { enqueued: number; invisible: number } {
    const r = this.totals.get({ now })!;
    const invisible = r.invisible ?? 0;
    return { enqueued: r.total - invisible, invisible };
  }

  pendingFeedbackRecords(now: number): number {
    return this.feedbackRecords.get(now)!.n;
  }
}

function toPending(r: PeekRow, now: number): PendingMessage {
  const locked = r.lock_token !== null && r.locked_until !== null && r.locked_until > now;
  return {
    ...storedMessageOf(r),
    state: locked ? 'Invisible' : 'Enqueued',
    lockedUntil: locked ? r.locked_until : null,
  };
}
