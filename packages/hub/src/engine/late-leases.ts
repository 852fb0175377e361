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
