/**
 * The client side of ferry_commit_lean (hot-path-lean-sql.ts): which groups may take it, the
 * sends, leases and completes as arrays of their own, and the rows back as the contract's results
 * (a complete that answers no row lost its lock). A group that may not (a purge, an
 * abandon, the scheduler's expire, feedback, dead letters, ops of one device out of phase order, a
 * lock token not minted here: ferry_token or its inline form) goes through ferry_commit op by op, as does one the server
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

/** A token minted here (ferry_token, or inline in ferry_commit_lean): its last 12 hex digits are the row id (the version digit is 'f'). */
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

/** One row of ferry_commit_lean: a result, a delivery (the message columns), or the commit's summary (op 0). */
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

// ferry_commit_lean (hot-path-lean-sql.ts): the sends', leases' and completes' arrays, then the commit's.
const SQL = `SELECT * FROM ferry_commit_lean(${Array.from({ length: 28 }, (_, i) => `$${i + 1}`).join(', ')})`;

type Send = Extract<HotOp, { kind: 'enqueue' }>;
type Lease = Extract<HotOp, { kind: 'lease' }>;

/**
 * For each send, the direct lease that takes it if the server finds nothing else of its device
 * Enqueued: when every lease of the device in the group is direct (its receiver waits), the
 * device's sends go to those leases in op order, as many as each asks for. Indexes are 1-based.
 */
function directLeases(ops: readonly HotOp[]): Map<number, number> {
  const leases = new Map<string, Array<{ at: number; max: number }>>();
  const notDirect = new Set<string>();
  ops.forEach((op, i) => {
    if (op.kind !== 'lease') return;
    if (!op.direct) notDirect.add(op.deviceId);
    const list = leases.get(op.deviceId) ?? [];
    list.push({ at: i + 1, max: Math.max(0, Math.floor(op.max)) });
    leases.set(op.deviceId, list);
  });
  const out = new Map<number, number>();
  const rank = new Map<string, number>();
  ops.forEach((op, i) => {
    if (op.kind !== 'enqueue') return;
    const device = op.message.deviceId;
    const r = (rank.get(device) ?? 0) + 1;
    rank.set(device, r);
    const list = leases.get(device);
    if (!list || notDirect.has(device)) return;
    let upto = 0;
    for (const l of list) {
      upto += l.max;
      if (r <= upto) {
        out.set(i + 1, l.at);
        return;
      }
    }
  });
  return out;
}

/** Runs the group on the hot path; undefined when something was due (nothing was written then). */
export async function commitHot(
  /** The store's pool, or one connection (a test holding a transaction open). */
  pool: Pick<pg.ClientBase, 'query'>,
  ops: readonly HotOp[],
  now: number,
  policy: QueuePolicy,
  channel: string,
  nodeId: string,
  /** Whether another node may lease these devices at the same moment (lease-lock-sql.ts). */
  shared: boolean,
): Promise<CommitResult | undefined> {
  const sends: Array<{ op: Send; at: number }> = [];
  const leases: Array<{ op: Lease; at: number }> = [];
  const completes: Array<{ op: Extract<HotOp, { kind: 'settle' }>; at: number }> = [];
  ops.forEach((op, i) => {
    if (op.kind === 'enqueue') sends.push({ op, at: i + 1 });
    else if (op.kind === 'lease') leases.push({ op, at: i + 1 });
    else completes.push({ op, at: i + 1 });
  });
  const direct = directLeases(ops);
  const msg = <T>(f: (m: Send['message']) => T | undefined) => sends.map((s) => f(s.op.message) ?? null);
  const r = await pool.query<HotRow>({
    name: 'ferry_commit_lean',
    text: SQL,
    values: [
      sends.map((s) => s.at),
      msg((m) => m.deviceId),
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
      // The history's "enqueued" sender (a job's copies never come here).
      sends.map((s) => s.op.origin?.policy ?? null),
      sends.map((s) => direct.get(s.at) ?? null),
      // The history's "delivered" protocol of a direct lease.
      sends.map((s) => {
        const at = direct.get(s.at);
        return at === undefined ? null : ((ops[at - 1] as Lease).protocol ?? null);
      }),
      leases.map((l) => l.at),
      leases.map((l) => l.op.deviceId),
      leases.map((l) => Math.floor(l.op.max)),
      leases.map((l) => l.op.protocol ?? null),
      completes.map((c) => c.at),
      completes.map((c) => c.op.deviceId),
      completes.map((c) => c.op.lockToken),
      now,
      new Date(now).toISOString(),
      JSON.stringify(policy),
      channel,
      nodeId,
      shared,
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
