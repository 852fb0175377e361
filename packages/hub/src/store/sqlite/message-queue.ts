/**
 * Per-device C2D queues on SQLite. A row is Enqueued (lock_token NULL) or Invisible (locked);
 * a message that is gone (completed, dead-lettered) is deleted and leaves a feedback record when
 * its ack asks for one. Synchronous; runs inside the store's commit.
 */
import { randomUUID } from 'node:crypto';
import type { Ack, Delivery, FeedbackStatus } from '@ferry/common';
import type Database from 'better-sqlite3';
import { feedbackRecord, wantsFeedback } from '../feedback-rules.js';
import type {
  EnqueueResult,
  LeaseResult,
  NewMessage,
  PurgeResult,
  ReleaseResult,
  SettleAction,
  SettleResult,
} from '../types.js';
import type { CommitContext } from './commit-context.js';
import type { FeedbackQueue } from './feedback-queue.js';

/** The columns needed to move a message between states (no body). */
interface StateRow {
  id: number;
  device_id: string;
  message_id: string | null;
  ack: Ack;
  expiry: number;
  delivery_count: number;
  lock_token: string | null;
  locked_until: number | null;
}

interface FullRow extends StateRow {
  seq: number;
  correlation_id: string | null;
  user_id: string | null;
  content_type: string | null;
  content_encoding: string | null;
  enqueued_at: number;
  properties: string;
  body: Buffer;
  leased_before: number;
}

const STATE = 'id, device_id, message_id, ack, expiry, delivery_count, lock_token, locked_until';

export class MessageQueue {
  private readonly device;
  private readonly generation;
  private readonly bumpSeq;
  private readonly insert;
  private readonly countDevice;
  private readonly countLive;
  private readonly dueForDevice;
  private readonly allForDevice;
  private readonly expired;
  private readonly lockExpired;
  private readonly nextEnqueued;
  private readonly lock;
  private readonly unlock;
  private readonly remove;
  private readonly byToken;
  private readonly minExpiry;
  private readonly minLockedUntil;

  constructor(
    db: Database.Database,
    private readonly feedback: FeedbackQueue,
  ) {
    this.device = db.prepare<[string], { status: string; next_seq: number }>(
      'SELECT status, next_seq FROM devices WHERE device_id = ?',
    );
    this.generation = db.prepare<[string], { generation_id: string }>(
      'SELECT generation_id FROM devices WHERE device_id = ?',
    );
    this.bumpSeq = db.prepare('UPDATE devices SET next_seq = next_seq + 1 WHERE device_id = ?');
    this.insert = db.prepare(`INSERT INTO c2d_messages (device_id, seq, message_id, correlation_id, user_id,
      content_type, content_encoding, ack, expiry, enqueued_at, properties, body)
      VALUES (@deviceId, @seq, @messageId, @correlationId, @userId, @contentType, @contentEncoding, @ack,
      @expiryTimeUtc, @now, @properties, @body)`);
    this.countDevice = db.prepare<[string], { n: number }>(
      'SELECT COUNT(*) AS n FROM c2d_messages WHERE device_id = ?',
    );
    this.countLive = db.prepare<[string, number], { n: number }>(
      'SELECT COUNT(*) AS n FROM c2d_messages WHERE device_id = ? AND expiry > ?',
    );
    this.dueForDevice = db.prepare<[{ deviceId: string; now: number }], StateRow>(
      `SELECT ${STATE} FROM c2d_messages WHERE device_id = @deviceId AND expiry <= @now
       UNION SELECT ${STATE} FROM c2d_messages WHERE device_id = @deviceId AND lock_token IS NOT NULL AND locked_until <= @now`,
    );
    this.allForDevice = db.prepare<[string], StateRow>(
      `SELECT ${STATE} FROM c2d_messages WHERE device_id = ? ORDER BY seq`,
    );
    this.expired = db.prepare<[number, number], StateRow>(
      `SELECT ${STATE} FROM c2d_messages WHERE expiry <= ? ORDER BY expiry LIMIT ?`,
    );
    this.lockExpired = db.prepare<[number, number], StateRow>(
      `SELECT ${STATE} FROM c2d_messages WHERE lock_token IS NOT NULL AND locked_until <= ? ORDER BY locked_until LIMIT ?`,
    );
    this.nextEnqueued = db.prepare<[string, number], FullRow>(
      'SELECT * FROM c2d_messages WHERE device_id = ? AND lock_token IS NULL ORDER BY seq LIMIT ?',
    );
    this.lock = db.prepare('UPDATE c2d_messages SET lock_token = ?, locked_until = ?, leased_before = 1 WHERE id = ?');
    this.unlock = db.prepare(
      'UPDATE c2d_messages SET lock_token = NULL, locked_until = NULL, delivery_count = ? WHERE id = ?',
    );
    this.remove = db.prepare('DELETE FROM c2d_messages WHERE id = ?');
    this.byToken = db.prepare<[string, string], StateRow>(
      `SELECT ${STATE} FROM c2d_messages WHERE lock_token = ? AND device_id = ?`,
    );
    this.minExpiry = db.prepare<[], { t: number | null }>('SELECT MIN(expiry) AS t FROM c2d_messages');
    this.minLockedUntil = db.prepare<[], { t: number | null }>(
      'SELECT MIN(locked_until) AS t FROM c2d_messages WHERE lock_token IS NOT NULL',
    );
  }

  enqueue(m: NewMessage, ctx: CommitContext): EnqueueResult {
    const device = this.device.get(m.deviceId);
    // Decision 9: a disabled device is "not found" for senders, as IoT Hub says.
    if (device?.status !== 'enabled') return { ok: false, error: 'DeviceNotFound' };
    this.applyDue(m.deviceId, ctx);
    // Decision 2: locked messages count toward the depth.
    if (this.countDevice.get(m.deviceId)!.n >= ctx.policy.maxQueueDepth) {
      return { ok: false, error: 'DeviceMaximumQueueDepthExceeded' };
    }
    const seq = device.next_seq;
    this.insert.run({
      deviceId: m.deviceId,
      seq,
      messageId: m.messageId ?? null,
      correlationId: m.correlationId ?? null,
      userId: m.userId ?? null,
      contentType: m.contentType ?? null,
      contentEncoding: m.contentEncoding ?? null,
      ack: m.ack,
      expiryTimeUtc: m.expiryTimeUtc,
      now: ctx.now,
      properties: JSON.stringify(m.properties),
      body: m.body,
    });
    this.bumpSeq.run(m.deviceId);
    ctx.woken.add(m.deviceId);
    return { ok: true, sequenceNumber: seq };
  }

  lease(deviceId: string, max: number, ctx: CommitContext): LeaseResult {
    this.applyDue(deviceId, ctx);
    const rows = this.nextEnqueued.all(deviceId, Math.max(0, Math.floor(max)));
    const lockedUntil = ctx.now + ctx.policy.lockTimeoutMs;
    const deliveries = rows.map((r): Delivery => {
      const lockToken = randomUUID();
      this.lock.run(lockToken, lockedUntil, r.id);
      return toDelivery(r, lockToken, lockedUntil);
    });
    return { ok: true, deliveries };
  }

  settle(deviceId: string, lockToken: string, action: SettleAction, ctx: CommitContext): SettleResult {
    // Expired locks and TTLs first: settling one of those is DeviceMessageLockLost (412002).
    this.applyDue(deviceId, ctx);
    const row = this.byToken.get(lockToken, deviceId);
    if (!row) return { ok: false, error: 'DeviceMessageLockLost' };
    switch (action) {
      case 'complete':
        this.finish(row, 'Success', ctx);
        return { ok: true, outcome: 'completed' };
      case 'reject':
        this.finish(row, 'Rejected', ctx);
        return { ok: true, outcome: 'deadLettered' };
      case 'abandon':
        return { ok: true, outcome: this.requeue(row, true, ctx) ? 'requeued' : 'deadLettered' };
    }
  }

  release(deviceId: string, lockTokens: readonly string[], ctx: CommitContext): ReleaseResult {
    this.applyDue(deviceId, ctx);
    let released = 0;
    for (const token of lockTokens) {
      const row = this.byToken.get(token, deviceId);
      if (!row) continue;
      this.requeue(row, ctx.policy.countLockExpiry, ctx);
      released++;
    }
    return { ok: true, released };
  }

  purge(deviceId: string, ctx: CommitContext): PurgeResult {
    if (!this.device.get(deviceId)) return { ok: false, error: 'DeviceNotFound' };
    // Already expired messages report Expired, not Purged.
    this.applyDue(deviceId, ctx);
    const rows = this.allForDevice.all(deviceId);
    for (const r of rows) this.finish(r, 'Purged', ctx);
    return { ok: true, purged: rows.length };
  }

  /** The scheduler's batch: TTL expiries (dead-lettered even when locked), then lock expiries. */
  expireDue(ctx: CommitContext, limit: number): { expired: number; locksExpired: number; more: boolean } {
    const expired = this.expired.all(ctx.now, limit);
    for (const r of expired) this.finish(r, 'Expired', ctx);
    const locks = this.lockExpired.all(ctx.now, limit);
    for (const r of locks) this.requeue(r, ctx.policy.countLockExpiry, ctx);
    return {
      expired: expired.length,
      locksExpired: locks.length,
      more: expired.length === limit || locks.length === limit,
    };
  }

  queueDepth(deviceId: string, now: number): number {
    return this.countLive.get(deviceId, now)!.n;
  }

  nextDeadline(): number | null {
    const e = this.minExpiry.get()?.t ?? null;
    const l = this.minLockedUntil.get()?.t ?? null;
    if (e === null) return l;
    return l === null ? e : Math.min(e, l);
  }

  /** What was due for this device by ctx.now, so a result never depends on the scheduler's timing. */
  private applyDue(deviceId: string, ctx: CommitContext): void {
    for (const r of this.dueForDevice.all({ deviceId, now: ctx.now })) {
      if (r.expiry <= ctx.now) this.finish(r, 'Expired', ctx);
      else this.requeue(r, ctx.policy.countLockExpiry, ctx);
    }
  }

  /** Back to Enqueued in its place (its seq is unchanged); dead-lettered when the count reaches the max. */
  private requeue(r: StateRow, count: boolean, ctx: CommitContext): boolean {
    const deliveryCount = r.delivery_count + (count ? 1 : 0);
    if (deliveryCount >= ctx.policy.maxDeliveryCount) {
      this.finish(r, 'DeliveryCountExceeded', ctx);
      return false;
    }
    this.unlock.run(deliveryCount, r.id);
    ctx.woken.add(r.device_id);
    return true;
  }

  private finish(r: StateRow, status: FeedbackStatus, ctx: CommitContext): void {
    this.remove.run(r.id);
    if (!wantsFeedback(r.ack, status)) return;
    const generationId = this.generation.get(r.device_id)?.generation_id ?? '';
    this.feedback.append(
      feedbackRecord(status, { deviceId: r.device_id, messageId: r.message_id }, generationId, ctx.now),
      ctx,
    );
  }
}

function toDelivery(r: FullRow, lockToken: string, lockedUntil: number): Delivery {
  const d: Delivery = {
    deviceId: r.device_id,
    sequenceNumber: r.seq,
    ack: r.ack,
    expiryTimeUtc: r.expiry,
    enqueuedTimeUtc: r.enqueued_at,
    properties: JSON.parse(r.properties) as Record<string, string>,
    body: r.body,
    deliveryCount: r.delivery_count,
    lockToken,
    lockedUntil,
    redelivered: r.leased_before === 1,
  };
  if (r.message_id !== null) d.messageId = r.message_id;
  if (r.correlation_id !== null) d.correlationId = r.correlation_id;
  if (r.user_id !== null) d.userId = r.user_id;
  if (r.content_type !== null) d.contentType = r.content_type;
  if (r.content_encoding !== null) d.contentEncoding = r.content_encoding;
  return d;
}
