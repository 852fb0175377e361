/**
 * The store's read-only queries on PostgreSQL (InspectionStore), as on SQLite: a page of devices,
 * a peek at one device's queue, hub-wide queue totals. Plain SELECTs; nothing here writes.
 */
import type { Ack } from '@ferry/common';
import type pg from 'pg';
import { historyEventOf, visibleSteps } from '../history-rows.js';
import { optionalFieldsOfRow, withOptionalFields } from '../rows.js';
import type { DeadLetter, DeadLetterReason, DevicePageQuery, HistoryEvent, PendingMessage } from '../types.js';
import { expandSteps, type StoredRow } from './history-steps.js';

interface PeekRow {
  device_id: string;
  seq: string;
  message_id: string | null;
  correlation_id: string | null;
  user_id: string | null;
  content_type: string | null;
  content_encoding: string | null;
  ack: Ack | null;
  expiry: string;
  default_expiry: boolean;
  enqueued_at: string;
  properties: string;
  body: Buffer;
  delivery_count: number;
  lock_token: string | null;
  locked_until: string | null;
}

/** LIKE with `\` as the escape character, so `%` and `_` in the search text match themselves. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export class InspectionQueries {
  constructor(private readonly pool: pg.Pool) {}

  /** The ids of one page, in byte order as on SQLite; the store reads the records. */
  async devicePageIds(q: DevicePageQuery): Promise<string[]> {
    const like = q.idContains ? likePattern(q.idContains) : null;
    const r = await this.pool.query<{ device_id: string }>(
      `SELECT device_id FROM devices WHERE device_id COLLATE "C" > $1
       AND ($2::text IS NULL OR device_id ILIKE $2) ORDER BY device_id COLLATE "C" LIMIT $3`,
      [q.afterDeviceId ?? '', like, Math.max(0, Math.floor(q.limit))],
    );
    return r.rows.map((x) => x.device_id);
  }

  async peekMessages(deviceId: string, now: number, limit: number): Promise<PendingMessage[]> {
    const r = await this.pool.query<PeekRow>(
      `SELECT device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding, ack, expiry,
       default_expiry, enqueued_at, properties, body, delivery_count, lock_token, locked_until
       FROM c2d_messages WHERE device_id = $1 AND expiry > $2 ORDER BY seq LIMIT $3`,
      [deviceId, now, Math.max(0, Math.floor(limit))],
    );
    return r.rows.map((row) => toPending(row, now));
  }

  async listDeadLetters(deviceId: string, now: number, retentionMs: number, limit: number): Promise<DeadLetter[]> {
    const r = await this.pool.query<PeekRow & { reason: DeadLetterReason; dead_lettered_at: string }>(
      `SELECT device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding, ack, expiry,
       default_expiry, enqueued_at, properties, body, delivery_count, reason, dead_lettered_at
       FROM c2d_dead_letters WHERE device_id = $1 AND dead_lettered_at > $2 ORDER BY id LIMIT $3`,
      [deviceId, now - retentionMs, Math.max(0, Math.floor(limit))],
    );
    return r.rows.map((row) => {
      const {
        state: _state,
        lockedUntil: _locked,
        ...m
      } = toPending({ ...row, lock_token: null, locked_until: null }, now);
      return { ...m, reason: row.reason, deadLetteredTimeUtc: Number(row.dead_lettered_at) };
    });
  }

  async messageHistory(deviceId: string, messageId: string, now: number, retentionMs: number): Promise<HistoryEvent[]> {
    // Ended copies' rows, then a pending copy's steps on its message row (history-steps.ts).
    const r = await this.pool.query<StoredRow>(
      `SELECT seq, kind, at, delivery_count, final::integer AS final, lock_token, via, detail, earlier, 0 AS pending, id
       FROM c2d_history WHERE device_id = $1 AND message_id = $2
       UNION ALL
       SELECT seq, NULL, NULL, NULL, 0, NULL, NULL, NULL, steps, 1, id
       FROM c2d_messages WHERE device_id = $1 AND message_id = $2 AND steps IS NOT NULL
       ORDER BY seq, pending, id`,
      [deviceId, messageId],
    );
    return visibleSteps(expandSteps(r.rows), now - retentionMs).map(historyEventOf);
  }

  async queueTotals(now: number): Promise<{ enqueued: number; invisible: number }> {
    const r = await this.pool.query<{ total: number; invisible: number }>(
      `SELECT count(*)::integer AS total,
       count(*) FILTER (WHERE lock_token IS NOT NULL AND locked_until > $1)::integer AS invisible
       FROM c2d_messages WHERE expiry > $1`,
      [now],
    );
    const { total, invisible } = r.rows[0]!;
    return { enqueued: total - invisible, invisible };
  }

  async pendingFeedbackRecords(now: number): Promise<number> {
    const r = await this.pool.query<{ n: number }>(
      `SELECT ((SELECT count(*) FROM feedback_pending)
       + (SELECT coalesce(sum(json_array_length(records::json)), 0) FROM feedback_batches WHERE expiry > $1))::integer AS n`,
      [now],
    );
    return r.rows[0]!.n;
  }
}

function toPending(r: PeekRow, now: number): PendingMessage {
  const lockedUntil = r.locked_until === null ? null : Number(r.locked_until);
  const locked = r.lock_token !== null && lockedUntil !== null && lockedUntil > now;
  const m: PendingMessage = {
    deviceId: r.device_id,
    sequenceNumber: Number(r.seq),
    expiryTimeUtc: Number(r.expiry),
    enqueuedTimeUtc: Number(r.enqueued_at),
    properties: JSON.parse(r.properties) as Record<string, string>,
    body: r.body,
    deliveryCount: r.delivery_count,
    state: locked ? 'Invisible' : 'Enqueued',
    lockedUntil: locked ? lockedUntil : null,
  };
  return withOptionalFields(m, optionalFieldsOfRow(r));
}
