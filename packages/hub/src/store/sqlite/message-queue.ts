/**
 * Per-device C2D queues on SQLite. A row is Enqueued (lock_token NULL) or Invisible (locked);
 * a message that is gone (completed, dead-lettered) is deleted and leaves a feedback record when
 * its ack asks for one. Synchronous; runs inside the store's commit.
 *
 * The hot path is a few statements per message: enqueue = one SELECT of the device (enabled, and
 * the depth) + the insert; lease = one SELECT of the rows and one UPDATE per message; complete =
 * one DELETE (with RETURNING only when the message asked for feedback). Sequence numbers come from
 * blocks held in memory (sequence-numbers.ts), so an enqueue does not rewrite the device's row.
 * A message enqueued for a device whose receiver waits in the engine (a `direct` lease later in
 * the same group) is inserted already locked for that lease: no lease statements at all. A lock
 * token ends with its row id, so settling finds the row by primary key; row ids are assigned here
 * (from MAX(id), re-read whenever memory may be stale) so that a token can be minted before its
 * row is written. What is due (TTLs, locks) is looked for per device only when `now` has reached
 * `dueFloor`, a lower bound of every deadline in the table kept in memory (fed by inserts and
 * leases, re-read after the scheduler's batches).
 */
import type { Ack, Delivery, FeedbackRecord, FeedbackStatus, StoredMessage } from '@ferry/common';
import type Database from 'better-sqlite3';
import { feedbackRecord, wantsFeedback } from '../feedback-rules.js';
import type { StepDetail } from '../history-rows.js';
import { newDelivery, optionalFieldsOfRow, withOptionalFields } from '../rows.js';
import type {
  EnqueueResult,
  LeaseResult,
  NewMessage,
  PurgeResult,
  ReleaseResult,
  RequeueDeadLetterResult,
  SettleAction,
  SettleResult,
} from '../types.js';
import type { CommitContext, DirectLease } from './commit-context.js';
import type { DeadLetterTable } from './dead-letter-table.js';
import type { FeedbackQueue } from './feedback-queue.js';
import type { HistoryTable } from './history-table.js';
import { completesQuietly, lockTokenRowId, mintLockToken } from './lock-tokens.js';
import { SequenceNumbers } from './sequence-numbers.js';

/** The columns needed to move a message between states (no body). */
interface StateRow {
  id: number;
  device_id: string;
  seq: number;
  message_id: string | null;
  /** '' when the sender set no ack (the column is NOT NULL since migration 1). */
  ack: Ack | '';
  expiry: number;
  delivery_count: number;
}

interface FullRow extends StateRow {
  correlation_id: string | null;
  user_id: string | null;
  content_type: string | null;
  content_encoding: string | null;
  enqueued_at: number;
  properties: string;
  body: Buffer;
  /** How many times it was leased (including the lease that returns it). */
  lease_count: number;
  /** 1 when the sender set no expiry. */
  default_expiry: number;
}

const STATE = 'id, device_id, seq, message_id, ack, expiry, delivery_count';
const FULL = `${STATE}, correlation_id, user_id, content_type, content_encoding, enqueued_at, properties, body,
  lease_count, default_expiry`;

export class MessageQueue {
  /** The devices' sequence numbers (blocks held in memory). */
  readonly sequenceNumbers: SequenceNumbers;
  /** No row has an expiry, or a lock that runs out, before this (a lower bound; -Infinity = unknown). */
  private dueFloor = Number.NEGATIVE_INFINITY;
  /** The row id of the next insert; undefined = read MAX(id) first. */
  private nextId: number | undefined;
  private readonly device;
  private readonly generation;
  private readonly insert;
  private readonly insertLocked;
  private readonly maxId;
  private readonly countLive;
  private readonly dueForDevice;
  private readonly allForDevice;
  private readonly expired;
  private readonly lockExpired;
  private readonly nextEnqueued;
  private readonly lockRow;
  private readonly unlock;
  private readonly remove;
  private readonly completeRow;
  private readonly completeQuiet;
  private readonly byToken;
  private readonly minExpiry;
  private readonly minLockedUntil;

  constructor(
    db: Database.Database,
    private readonly feedback: FeedbackQueue,
    private readonly deadLetters: DeadLetterTable,
    private readonly history: HistoryTable,
  ) {
    this.device = db.prepare<[string], { status: string }>('SELECT status FROM devices WHERE device_id = ?');
    this.generation = db.prepare<[string], { generation_id: string }>(
      'SELECT generation_id FROM devices WHERE device_id = ?',
    );
    // steps: the copy's history while it is pending (history-table.ts), NULL when none is kept.
    const columns = `id, device_id, seq, message_id, correlation_id, user_id, content_type, content_encoding, ack,
      expiry, default_expiry, enqueued_at, properties, body, steps`;
    this.insert = db.prepare(
      `INSERT INTO c2d_messages (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertLocked = db.prepare(`INSERT INTO c2d_messages (${columns}, lock_token, locked_until, lease_count)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`);
    this.maxId = db.prepare<[], { id: number }>('SELECT COALESCE(MAX(id), 0) AS id FROM c2d_messages');
    this.sequenceNumbers = new SequenceNumbers(db);
    this.countLive = db.prepare<[string, number], { n: number }>(
      'SELECT COUNT(*) AS n FROM c2d_messages WHERE device_id = ? AND expiry > ?',
    );
    this.dueForDevice = db.prepare<[string, number, number], StateRow & { locked_until: number | null }>(
      `SELECT ${STATE}, locked_until FROM c2d_messages WHERE device_id = ?
       AND (expiry <= ? OR (lock_token IS NOT NULL AND locked_until <= ?)) ORDER BY seq`,
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
    this.nextEnqueued = db.prepare<[string, number, number], FullRow>(
      `SELECT ${FULL} FROM c2d_messages WHERE device_id = ? AND lock_token IS NULL AND expiry > ? ORDER BY seq LIMIT ?`,
    );
    // Measured: one SELECT of the rows, then a plain UPDATE per row, beats UPDATE ... RETURNING per
    // row (RETURNING costs more than the UPDATE) and one UPDATE ... WHERE id IN (...).
    // `steps || ?` appends the history step ('' when none is kept; NULL steps stay NULL).
    this.lockRow = db.prepare<[string, number, string, number]>(
      'UPDATE c2d_messages SET lock_token = ?, locked_until = ?, lease_count = lease_count + 1, steps = steps || ? WHERE id = ?',
    );
    this.unlock = db.prepare<[number, string, number]>(
      'UPDATE c2d_messages SET lock_token = NULL, locked_until = NULL, delivery_count = ?, steps = steps || ? WHERE id = ?',
    );
    this.remove = db.prepare('DELETE FROM c2d_messages WHERE id = ?');
    this.completeRow = db.prepare<[number, string, string], StateRow & { steps: string | null }>(
      `DELETE FROM c2d_messages WHERE id = ? AND lock_token = ? AND device_id = ? RETURNING ${STATE}, steps`,
    );
    this.completeQuiet = db.prepare<[number, string, string]>(
      'DELETE FROM c2d_messages WHERE id = ? AND lock_token = ? AND device_id = ?',
    );
    this.byToken = db.prepare<[number, string, string], StateRow>(
      `SELECT ${STATE} FROM c2d_messages WHERE id = ? AND lock_token = ? AND device_id = ?`,
    );
    this.minExpiry = db.prepare<[], { t: number | null }>('SELECT MIN(expiry) AS t FROM c2d_messages');
    this.minLockedUntil = db.prepare<[], { t: number | null }>(
      'SELECT MIN(locked_until) AS t FROM c2d_messages WHERE lock_token IS NOT NULL',
    );
  }

  /**
   * At the start of each write transaction: whether another connection has committed since the
   * last one. If it has, what memory holds of the table is stale.
   */
  beginTransaction(othersWrote: boolean): void {
    if (othersWrote) this.forget();
    this.sequenceNumbers.countTransaction(othersWrote);
  }

  /**
   * Forget what memory knows of the table (a transaction or savepoint rolled back, another
   * connection wrote): re-read before the next op.
   */
  forget(): void {
    this.dueFloor = Number.NEGATIVE_INFINITY;
    this.nextId = undefined;
    this.sequenceNumbers.forget();
  }

  /** `origin`: what the history's "enqueued" step tells of the sender. */
  enqueue(m: NewMessage, ctx: CommitContext, origin?: StepDetail): EnqueueResult {
    this.applyDue(m.deviceId, ctx);
    const seq = this.sequenceNumbers.take(m.deviceId, ctx.policy.maxQueueDepth);
    if (typeof seq === 'string') return { ok: false, error: seq };
    this.nextId ??= this.maxId.get()!.id + 1;
    const id = this.nextId;
    const enqueued = this.history.step(m.messageId, 'enqueued', 0, ctx, origin);
    const direct = ctx.directLeaseFor(m.deviceId);
    // One array bound as the statement's parameters (no spread), made at its full length: the
    // last three (steps, lock token, locked until) are set below, not pushed (a push would copy it).
    const values: unknown[] = [
      id,
      m.deviceId,
      seq,
      m.messageId ?? null,
      m.correlationId ?? null,
      m.userId ?? null,
      m.contentType ?? null,
      m.contentEncoding ?? null,
      m.ack ?? '',
      m.expiryTimeUtc,
      m.defaultExpiry ? 1 : 0,
      ctx.now,
      JSON.stringify(m.properties),
      m.body,
      null,
      null,
      null,
    ];
    if (direct) {
      // Direct delivery: locked for the device's waiting receiver as it is written.
      const lockToken = mintLockToken(id, m.ack);
      const lockedUntil = ctx.now + ctx.policy.lockTimeoutMs;
      const delivered = this.history.step(m.messageId, 'delivered', 0, ctx, { lockToken, via: direct.protocol });
      values[14] = enqueued === '' ? null : enqueued + delivered;
      values[15] = lockToken;
      values[16] = lockedUntil;
      this.insertLocked.run(values);
      this.nextId = id + 1;
      direct.room--;
      const delivery = newDelivery(m, seq, ctx.now, lockToken, lockedUntil);
      if (direct.deliveries.length === 0) direct.deliveries = [delivery];
      else direct.deliveries.push(delivery);
      this.lowerFloor(Math.min(m.expiryTimeUtc, lockedUntil), ctx);
    } else {
      values.length = 15;
      values[14] = enqueued === '' ? null : enqueued;
      this.insert.run(values);
      this.nextId = id + 1;
      this.lowerFloor(m.expiryTimeUtc, ctx);
    }
    ctx.woken.add(m.deviceId);
    return { ok: true, sequenceNumber: seq };
  }

  /** `direct`: the group's direct lease of this op (its messages were locked as they were enqueued). */
  lease(deviceId: string, max: number, ctx: CommitContext, direct?: DirectLease, protocol?: string): LeaseResult {
    this.applyDue(deviceId, ctx);
    if (direct) {
      const room = direct.room;
      direct.room = 0; // applied: later enqueues of the group are not for it
      // The device had nothing Enqueued when the group began; only a requeue in this group can
      // have made an older message available since.
      if (room === 0 || !ctx.requeued.has(deviceId)) return { ok: true, deliveries: direct.deliveries };
      const more = this.leaseEnqueued(deviceId, room, ctx, protocol);
      return {
        ok: true,
        deliveries: [...direct.deliveries, ...more].sort((a, b) => a.sequenceNumber - b.sequenceNumber),
      };
    }
    return { ok: true, deliveries: this.leaseEnqueued(deviceId, max, ctx, protocol) };
  }

  private leaseEnqueued(deviceId: string, max: number, ctx: CommitContext, protocol?: string): Delivery[] {
    const n = Math.max(0, Math.floor(max));
    if (n === 0) return [];
    const rows = this.nextEnqueued.all(deviceId, ctx.now, n);
    if (rows.length === 0) return [];
    const lockedUntil = ctx.now + ctx.policy.lockTimeoutMs;
    const deliveries = rows.map((r) => {
      const lockToken = mintLockToken(r.id, r.ack);
      const step = this.history.step(r.message_id, 'delivered', r.delivery_count, ctx, { lockToken, via: protocol });
      this.lockRow.run(lockToken, lockedUntil, step, r.id);
      return toDelivery(r, lockToken, lockedUntil);
    });
    this.lowerFloor(lockedUntil, ctx);
    return deliveries;
  }

  settle(deviceId: string, lockToken: string, action: SettleAction, ctx: CommitContext): SettleResult {
    // Expired locks and TTLs first: settling one of those is DeviceMessageLockLost (412002).
    this.applyDue(deviceId, ctx);
    const id = lockTokenRowId(lockToken);
    if (id === undefined) return { ok: false, error: 'DeviceMessageLockLost' };
    if (action === 'complete') {
      if (completesQuietly(lockToken)) {
        this.history.completed(id, lockToken, deviceId, ctx);
        const gone = this.completeQuiet.run(id, lockToken, deviceId).changes === 1;
        return gone ? { ok: true, outcome: 'completed' } : { ok: false, error: 'DeviceMessageLockLost' };
      }
      const row = this.completeRow.get(id, lockToken, deviceId);
      if (!row) return { ok: false, error: 'DeviceMessageLockLost' };
      const feedback = this.feedbackFor(row, 'Success', ctx);
      const step = this.history.step(row.message_id, 'completed', row.delivery_count, ctx, { feedback });
      this.history.endDeleted(deviceId, row.message_id, row.seq, row.steps, step, ctx);
      return { ok: true, outcome: 'completed' };
    }
    const row = this.byToken.get(id, lockToken, deviceId);
    if (!row) return { ok: false, error: 'DeviceMessageLockLost' };
    if (action === 'reject') {
      this.finish(row, 'Rejected', ctx);
      return { ok: true, outcome: 'deadLettered' };
    }
    return { ok: true, outcome: this.requeue(row, true, ctx, 'abandoned') ? 'requeued' : 'deadLettered' };
  }

  release(deviceId: string, lockTokens: readonly string[], ctx: CommitContext): ReleaseResult {
    this.applyDue(deviceId, ctx);
    let released = 0;
    for (const token of lockTokens) {
      const id = lockTokenRowId(token);
      const row = id === undefined ? undefined : this.byToken.get(id, token, deviceId);
      if (!row) continue;
      this.requeue(row, ctx.policy.countLockExpiry, ctx, 'released');
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
    for (const r of locks) this.requeue(r, ctx.policy.countLockExpiry, ctx, 'lockExpired');
    const more = expired.length === limit || locks.length === limit;
    // Nothing due is left (below now): the floor may rise to the next deadline.
    if (!more) this.readFloor();
    return { expired: expired.length, locksExpired: locks.length, more };
  }

  /** A kept dead letter back at the tail of the queue, as a new message (docs/dead-letters.md). */
  requeueDeadLetter(deviceId: string, seq: number, expiry: number, ctx: CommitContext): RequeueDeadLetterResult {
    const dead = this.deadLetters.find(deviceId, seq, ctx);
    if (!dead) return { ok: false, error: 'DeadLetterNotFound' };
    const back = this.enqueue(requeuedMessage(dead, expiry), ctx, { requeuedFrom: seq });
    if (!back.ok) return back;
    this.deadLetters.remove(dead.rowId);
    const step = this.history.step(dead.messageId, 'requeued', dead.deliveryCount, ctx, {
      requeuedAs: back.sequenceNumber,
    });
    this.history.requeued(deviceId, dead.messageId, seq, step, ctx);
    return back;
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

  private readFloor(): void {
    this.dueFloor = this.nextDeadline() ?? Number.POSITIVE_INFINITY;
  }

  private lowerFloor(at: number, ctx: CommitContext): void {
    if (at < this.dueFloor) this.dueFloor = at;
    ctx.deadline(at);
  }

  /** What was due for this device by ctx.now, so a result never depends on the scheduler's timing. */
  private applyDue(deviceId: string, ctx: CommitContext): void {
    if (this.dueFloor === Number.NEGATIVE_INFINITY) this.readFloor();
    if (ctx.now < this.dueFloor) return;
    for (const r of this.dueForDevice.all(deviceId, ctx.now, ctx.now)) {
      if (r.expiry <= ctx.now) this.finish(r, 'Expired', ctx);
      else this.requeue(r, ctx.policy.countLockExpiry, ctx, 'lockExpired');
    }
  }

  /** Back to Enqueued in its place (its seq is unchanged); dead-lettered when the count reaches the max. */
  private requeue(
    r: StateRow,
    count: boolean,
    ctx: CommitContext,
    step: 'abandoned' | 'released' | 'lockExpired',
  ): boolean {
    const deliveryCount = r.delivery_count + (count ? 1 : 0);
    const stepText = this.history.step(r.message_id, step, deliveryCount, ctx);
    if (deliveryCount >= ctx.policy.maxDeliveryCount) {
      this.finish({ ...r, delivery_count: deliveryCount }, 'DeliveryCountExceeded', ctx, stepText);
      return false;
    }
    this.unlock.run(deliveryCount, stepText, r.id);
    ctx.woken.add(r.device_id);
    ctx.requeued.add(r.device_id);
    return true;
  }

  /** `before`: history steps not yet in the row (the abandon that dead-letters it). */
  private finish(r: StateRow, status: Exclude<FeedbackStatus, 'Success'>, ctx: CommitContext, before = ''): void {
    this.deadLetters.keepRow(r.id, r.device_id, r.delivery_count, status, ctx);
    const feedback = this.feedbackFor(r, status, ctx);
    const step = this.history.step(r.message_id, ENDING_STEP[status], r.delivery_count, ctx, { feedback });
    this.history.endCopy(r.id, before + step, ctx);
    this.remove.run(r.id);
  }

  /** The feedback record the message's ack asks for (appended to the feedback queue), if any. */
  private feedbackFor(r: StateRow, status: FeedbackStatus, ctx: CommitContext): FeedbackRecord | undefined {
    if (r.ack === '' || !wantsFeedback(r.ack, status)) return undefined;
    const generationId = this.generation.get(r.device_id)?.generation_id ?? '';
    const record = feedbackRecord(status, { deviceId: r.device_id, messageId: r.message_id }, generationId, ctx.now);
    this.feedback.append(record, ctx);
    return record;
  }
}

/** The history step of each way a message leaves the queue other than completion. */
const ENDING_STEP = {
  Rejected: 'rejected',
  Expired: 'expired',
  Purged: 'purged',
  DeliveryCountExceeded: 'deadLettered',
} as const;

/** The columns a stored message is read from (what every reader of c2d_messages maps). */
export type MessageRow = Pick<
  FullRow,
  | 'device_id'
  | 'seq'
  | 'message_id'
  | 'correlation_id'
  | 'user_id'
  | 'content_type'
  | 'content_encoding'
  | 'ack'
  | 'expiry'
  | 'default_expiry'
  | 'enqueued_at'
  | 'properties'
  | 'body'
  | 'delivery_count'
>;

/** A row as the message model: unset fields stay absent (issue 13), '' in ack meaning unset. */
export function storedMessageOf(r: MessageRow): StoredMessage {
  return withOptionalFields(
    {
      deviceId: r.device_id,
      sequenceNumber: r.seq,
      expiryTimeUtc: r.expiry,
      enqueuedTimeUtc: r.enqueued_at,
      properties: r.properties === '{}' ? {} : (JSON.parse(r.properties) as Record<string, string>),
      body: r.body,
      deliveryCount: r.delivery_count,
    },
    optionalFieldsOfRow(r),
  );
}

/** A dead letter as a new message with a fresh expiry (whether the sender set one is kept). */
function requeuedMessage(d: StoredMessage, expiry: number): NewMessage {
  const m: NewMessage = { deviceId: d.deviceId, expiryTimeUtc: expiry, properties: d.properties, body: d.body };
  if (d.ack) m.ack = d.ack;
  if (d.defaultExpiry) m.defaultExpiry = true;
  if (d.messageId !== undefined) m.messageId = d.messageId;
  if (d.correlationId !== undefined) m.correlationId = d.correlationId;
  if (d.userId !== undefined) m.userId = d.userId;
  if (d.contentType !== undefined) m.contentType = d.contentType;
  if (d.contentEncoding !== undefined) m.contentEncoding = d.contentEncoding;
  return m;
}

function toDelivery(r: FullRow, lockToken: string, lockedUntil: number): Delivery {
  // The lease count as read before this lease.
  return { ...storedMessageOf(r), lockToken, lockedUntil, redelivered: r.lease_count > 0 };
}
