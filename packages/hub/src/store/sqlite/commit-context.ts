/** What one commit collects while its operations run: the time, the limits, and what to signal. */
import type { Delivery, FeedbackRecord } from '@ferry/common';
import type { QueueOp, QueuePolicy } from '../types.js';

/** A direct lease of the group (QueueOp lease with `direct`): room left, and what was locked for it. */
export interface DirectLease {
  room: number;
  /** Starts empty; the first delivery replaces it with a one-element array (a push would reserve 16 slots). */
  deliveries: Delivery[];
  /** The receiver's protocol, for the history's "delivered" steps. */
  readonly protocol?: string;
}

export class CommitContext {
  readonly woken = new Set<string>();
  /** Some op appended feedback records: try to make batches before the commit ends. */
  feedbackAppended = false;
  feedbackAvailable = false;
  /** Records appended by this commit, for CommitResult.feedbackRecords. */
  readonly feedbackRecords: FeedbackRecord[] = [];
  /** The earliest deadline an op created (CommitResult.earliestDeadline). */
  earliestDeadline: number | null = null;
  /** Devices with a message back to Enqueued in this commit (older than what the commit enqueues). */
  readonly requeued = new Set<string>();
  /** The group's direct leases by device, in op order; and by op. */
  readonly directByDevice = new Map<string, DirectLease[]>();
  readonly directByOp = new Map<QueueOp, DirectLease>();

  constructor(
    readonly now: number,
    readonly policy: QueuePolicy,
    ops: readonly QueueOp[] = [],
  ) {
    for (const op of ops) {
      if (op.kind !== 'lease' || op.direct !== true) continue;
      const room = Math.max(0, Math.floor(op.max));
      const lease: DirectLease =
        op.protocol === undefined ? { room, deliveries: [] } : { room, deliveries: [], protocol: op.protocol };
      this.directByOp.set(op, lease);
      const list = this.directByDevice.get(op.deviceId);
      if (list) list.push(lease);
      else this.directByDevice.set(op.deviceId, [lease]);
    }
  }

  /** The first direct lease of the device with room, unless an older message was requeued in this commit. */
  directLeaseFor(deviceId: string): DirectLease | undefined {
    if (this.directByDevice.size === 0 || this.requeued.has(deviceId)) return undefined;
    for (const lease of this.directByDevice.get(deviceId) ?? []) if (lease.room > 0) return lease;
    return undefined;
  }

  /** An op created a deadline at `at`. */
  deadline(at: number): void {
    if (this.earliestDeadline === null || at < this.earliestDeadline) this.earliestDeadline = at;
  }
}
