/**
 * Lock deadlines count from the commit, not from before it. A lease's locks are set in its
 * transaction from the time read when its group began to be written (the store is given `now`).
 * A store that stalls (a paused database, a disk that stops answering) commits them late, with
 * less of the lock left, or none: a message handed out with an expired lock is Enqueued again by
 * the next lock expiry and leased again, to the same connection, while the device still works on
 * it (issue 23, seen after a 35 s PostgreSQL pause).
 *
 * So each lease is judged when its commit answers: when less than half the lock timeout is left,
 * its messages are not handed out. The engine takes them back at once (a release, as a lock
 * expiry would: the delivery count rises only with c2d.countLockExpiry) and the lease answers
 * empty; the release wakes the device, so a waiting receiver leases them again with locks that
 * start then, and receive() leases again itself. Half, not "expired": a lock with a few
 * milliseconds left would expire in the device's hands just the same. A commit that takes half a
 * lock timeout (30 s by default) is a stall, never a busy store, so this costs nothing otherwise.
 */
import type { Delivery } from '@ferry/common';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { QueueOp, QueueOpResult } from '../store/types.js';

/** Late leases are logged at most this often (after a pause every waiting device's lease is late). */
const LOG_MS = 60_000;

/** The lock tokens to take back when the lease's locks are too short to hand out, else undefined. */
export function lateLockTokens(
  deliveries: readonly Delivery[],
  now: number,
  lockTimeoutMs: number,
): string[] | undefined {
  if (deliveries.length === 0) return undefined;
  let earliest = Number.POSITIVE_INFINITY;
  for (const d of deliveries) earliest = Math.min(earliest, d.lockedUntil);
  if (earliest - now >= lockTimeoutMs / 2) return undefined;
  return deliveries.map((d) => d.lockToken);
}

/** The engine's judge of lease answers: takes late locks back and says which answers it emptied. */
export class LateLeases {
  /** Lease answers emptied here. */
  private readonly takenBack = new WeakSet<object>();
  /** Late leases since the last line about them, and when that was. */
  private count = 0;
  private logged = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly lockTimeoutMs: number,
    private readonly logger: Logger,
    /** Submits an op to the next group (the release of a late lease). */
    private readonly submit: (op: QueueOp, onResult: (r: QueueOpResult | Error) => void) => void,
  ) {}

  /** A lease's answer as it may be handed out: itself, or an empty lease when its locks came too late. */
  judge(deviceId: string, result: QueueOpResult | Error): QueueOpResult | Error {
    if (result instanceof Error || !result.ok || !('deliveries' in result)) return result;
    const now = this.clock.now();
    const lockTokens = lateLockTokens(result.deliveries, now, this.lockTimeoutMs);
    if (!lockTokens) return result;
    this.count++;
    if (now - this.logged >= LOG_MS) {
      this.logger.warn(
        { deviceId, leases: this.count, lockLeftMs: result.deliveries[0]!.lockedUntil - now },
        'leases committed too late to hand out (the store stalled): their messages are released and leased again',
      );
      this.logged = now;
      this.count = 0;
    }
    this.submit({ kind: 'release', deviceId, lockTokens }, (r) => {
      if (r instanceof Error || !r.ok) this.logger.error({ err: r, deviceId }, 'releasing a late lease failed');
    });
    const empty = { ok: true as const, deliveries: [] };
    this.takenBack.add(empty);
    return empty;
  }

  /** Whether this lease answer is one that judge() emptied. */
  wasTakenBack(result: object): boolean {
    return this.takenBack.has(result);
  }
}
