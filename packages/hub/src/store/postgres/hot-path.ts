/**
 * The client side of ferry_commit_hot (hot-path-sql.ts): which groups may take it, the ops as
 * parallel arrays, and the rows back as the contract's results. A group that may not (a purge, an
 * abandon, the scheduler's expire, feedback, dead letters, ops of one device out of phase order, a
 * lock token not minted by ferry_token) goes through ferry_commit op by op, as does one the server
 * answers 'due' for (something of its devices expired first).
 */
import type { Delivery, FeedbackRecord } from '@ferry/common';
import type pg from 'pg';
import { newDelivery, type OptionalMessageColumns, optionalFieldsOfRow, withOptionalFields } from '../rows.js';
import type { CommitResult, QueueOp, QueueOpResult, QueuePolicy } from '../types.js';

type HotOp =
  | Extract<QueueOp, { kind: 'enqueue' }>
  | Extract<QueueOp, { kind: 'lease' }>
  | (Extract<QueueOp, { kind: 'settle' }> & { action: 'complete' });

/** A token ferry_token minted: its last 12 hex digits are the row id (the version digit is 'f'). */
const HOT_TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-f[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const PHASE = { enqueue: 0, lease: 1, settle: 2 } as const;

function deviceOf(op: HotOp): string {
  return op.kind === 'enqueue' ? op.message.deviceId : op.deviceId;
}

/** The ops when the whole group can take the hot path: sends, leases, completes, in phase order per device. */
export function hotOps(ops: readonly QueueOp[]): readonly HotOp[] | undefined {
  const phase = new Map<string, number>();
  for (const op of ops) {
    if (op.kind === 'enqueue') {
      // A job's copy checks and marks its ledger row: ferry_apply's path (job-queries.ts).
      if (!Buffer.isBuffer(op.message.body) || typeof op.message.deviceId !== 'string' || op.job !== undefined)
        return undefined;
    } else if (op.kind === 'settle') {
      if (op.action !== 'complete' || typeof op.lockToken !== 'string' || !HOT_TOKEN.test(op.lockToken))
        return undefined;
    } else if (op.kind !== 'lease') {
      return undefined;
    }
    const hot = op as HotOp;
    const device = deviceOf(hot);
    if (typeof device !== 'string') return undefined;
    const p = PHASE[hot.kind];
    if ((phase.get(device) ?? 0) > p) return undefined;
    phase.set(device, p);
  }
  return ops as readonly HotOp[];
}

/** One row of ferry_commit_hot: a result, a delivery (the message columns), or the commit's summary (op 0). */
interface HotRow extends OptionalMessageColumns {
  op: number;
  code: string;
  seq: string | null;
  src: number | null;
  lock_token: string | null;
  delivery_count: number | null;
  redelivered: boolean | null;
  expiry: string | null;
  enqueued_at: string | null;
  properties: string | null;
  body: Buffer | null;
  woken: string[] | null;
  available: boolean | null;
  earliest: string | null;
  records: string[] | null;
}

// 20 arguments: the overload that records the message history (history-sql.ts).
const SQL = `SELECT * FROM ferry_commit_hot(${Array.from({ length: 20 }, (_, i) => `$${i + 1}`).join(', ')})`;

/** Runs the group on the hot path; undefined when something was due (nothing was written then). */
export async function commitHot(
  pool: pg.Pool,
  ops: readonly HotOp[],
  now: number,
  policy: QueuePolicy,
  channel: string,
  nodeId: string,
): Promise<CommitResult | undefined> {
  const column = <T>(f: (op: HotOp) => T | undefined) => ops.map((op) => f(op) ?? null);
  const msg = <T>(f: (m: Extract<QueueOp, { kind: 'enqueue' }>['message']) => T | undefined) =>
    column((op) => (op.kind === 'enqueue' ? f(op.message) : undefined));
  const r = await pool.query<HotRow>({
    name: 'ferry_commit_hot',
    text: SQL,
    values: [
      column((op) => (op.kind === 'enqueue' ? 'e' : op.kind === 'settle' ? 'c' : op.direct ? 'L' : 'l')),
      column(deviceOf),
      column((op) => (op.kind === 'settle' ? op.lockToken : undefined)),
      column((op) => (op.kind === 'lease' ? Math.floor(op.max) : undefined)),
      msg((m) => m.messageId),
      msg((m) => m.correlationId),
      msg((m) => m.userId),
      msg((m) => m.contentType),
      msg((m) => m.contentEncoding),
      msg((m) => m.ack),
      msg((m) => m.expiryTimeUtc),
      msg((m) => m.defaultExpiry === true),
      msg((m) => JSON.stringify(m.properties)),
      msg((m) => m.body),
      now,
      new Date(now).toISOString(),
      JSON.stringify(policy),
      channel,
      nodeId,
      // The history's "enqueued" sender and "delivered" protocol (a job's copies never come here).
      column((op) => (op.kind === 'enqueue' ? op.origin?.policy : op.kind === 'lease' ? op.protocol : undefined)),
    ],
  });
  if (r.rows[0]?.code === 'due') return undefined;
  return resultOf(r.rows, ops, now, policy);
}

function resultOf(rows: HotRow[], ops: readonly HotOp[], now: number, policy: QueuePolicy): CommitResult {
  const results: QueueOpResult[] = ops.map((op) =>
    op.kind === 'lease' ? { ok: true, deliveries: [] } : { ok: false, error: 'DeviceMessageLockLost' },
  );
  let summary: HotRow | undefined;
  for (const row of rows) {
    if (row.op === 0) {
      summary = row;
      continue;
    }
    const op = ops[row.op - 1]!;
    const result = results[row.op - 1]!;
    if (op.kind === 'lease' && result.ok && 'deliveries' in result) {
      result.deliveries.push(deliveryOf(op.deviceId, row, now + policy.lockTimeoutMs));
    } else if (op.kind === 'enqueue') {
      if (row.code !== 'ok') {
        results[row.op - 1] = { ok: false, error: row.code as 'DeviceNotFound' | 'DeviceMaximumQueueDepthExceeded' };
        continue;
      }
      results[row.op - 1] = { ok: true, sequenceNumber: Number(row.seq) };
      if (row.src !== null) {
        // Locked as it was inserted, for the waiting receiver's lease `src`.
        const lease = results[row.src - 1] as { deliveries: Delivery[] };
        lease.deliveries.push(
          newDelivery(op.message, Number(row.seq), now, row.lock_token!, now + policy.lockTimeoutMs),
        );
      }
    } else if (op.kind === 'settle') {
      results[row.op - 1] =
        row.code === 'ok' ? { ok: true, outcome: 'completed' } : { ok: false, error: 'DeviceMessageLockLost' };
    }
  }
  return {
    results,
    wokenDevices: summary?.woken ?? [],
    feedbackAvailable: summary?.available ?? false,
    earliestDeadline: summary?.earliest == null ? null : Number(summary.earliest),
    ...(summary?.records && { feedbackRecords: summary.records.map((t) => JSON.parse(t) as FeedbackRecord) }),
  };
}

function deliveryOf(deviceId: string, r: HotRow, lockedUntil: number): Delivery {
  const d: Delivery = {
    deviceId,
    sequenceNumber: Number(r.seq),
    expiryTimeUtc: Number(r.expiry),
    enqueuedTimeUtc: Number(r.enqueued_at),
    properties: JSON.parse(r.properties!) as Record<string, string>,
    body: r.body!,
    deliveryCount: r.delivery_count!,
    lockToken: r.lock_token!,
    lockedUntil,
    redelivered: r.redelivered === true,
  };
  return withOptionalFields(d, optionalFieldsOfRow(r));
}
