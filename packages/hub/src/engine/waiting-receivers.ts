/**
 * Direct delivery: a receiver with room that found the queue empty waits here instead of leasing
 * again on every signal. When a group about to be committed holds an enqueue for its device, a
 * lease for it is added to the same group, after the enqueue, so an online device's message is
 * enqueued and leased in one transaction (then completed in a second one). Any other wake-up
 * (abandon, release, lock expiry) submits the lease in the next group.
 *
 * A waiter is either parked (nothing leased, nothing in flight) or leasing (a lease op is in a
 * group). A wake-up that lands while it is leasing makes it lease again when that lease comes
 * back empty, so no wake-up is lost.
 */
import type { Delivery } from '@ferry/common';
import type { QueueOp, QueueOpResult } from '../store/types.js';

interface Waiter {
  readonly deviceId: string;
  readonly max: number;
  state: 'parked' | 'leasing';
  /** Woken while leasing: lease again if the lease comes back empty. */
  again: boolean;
  aborted: boolean;
  resolve(deliveries: Delivery[]): void;
  reject(err: unknown): void;
}

/** A receiver waiting in the engine (C2dEngine.awaitMessages). */
export interface WaitHandle {
  /** The next non-empty lease, or [] after cancel() or when the engine stops. */
  readonly deliveries: Promise<Delivery[]>;
  /** Stop waiting; a lease already in flight still resolves `deliveries` (release what you cannot use). */
  cancel(): void;
}

/** What the committer needs to add a lease op to the group it is about to write. */
export type AddOp = (op: QueueOp, onResult: (r: QueueOpResult | Error) => void) => void;

export class WaitingReceivers {
  private readonly byDevice = new Map<string, Set<Waiter>>();
  /** Devices whose direct lease in the last group came back short: their queue is empty. */
  private readonly drained = new Set<string>();

  /**
   * @param submit submits a lease op to the next group
   */
  constructor(private readonly submit: (op: QueueOp) => Promise<QueueOpResult>) {}

  /** The next non-empty lease for the device; cancel() makes it resolve with [] (unless a lease is in flight). */
  wait(deviceId: string, max: number): WaitHandle {
    let w!: Waiter;
    const deliveries = new Promise<Delivery[]>((resolve, reject) => {
      w = { deviceId, max, state: 'parked', again: false, aborted: false, resolve, reject };
    });
    const set = this.byDevice.get(deviceId);
    if (set) set.add(w);
    else this.byDevice.set(deviceId, new Set([w]));
    return { deliveries, cancel: () => this.abort(w) };
  }

  /** Before a group is written: a lease after it for each parked waiter of a device it enqueues to. */
  extendGroup(ops: readonly QueueOp[], add: AddOp): void {
    if (this.byDevice.size === 0) return;
    const seen = new Set<string>();
    for (const op of ops) {
      if (op.kind !== 'enqueue' || seen.has(op.message.deviceId)) continue;
      seen.add(op.message.deviceId);
      for (const w of this.byDevice.get(op.message.deviceId) ?? []) {
        if (w.state !== 'parked') continue;
        w.state = 'leasing';
        add({ kind: 'lease', deviceId: w.deviceId, max: w.max, direct: true }, (r) => {
          if (!(r instanceof Error) && 'deliveries' in r && r.deliveries.length < w.max) this.drained.add(w.deviceId);
          this.leased(w, r);
        });
      }
    }
  }

  /**
   * After a commit: whether a woken device needs its signal (false when a direct lease in this
   * group emptied its queue). Call once per woken device, then endGroup().
   */
  needsSignal(deviceId: string): boolean {
    return !this.drained.has(deviceId);
  }

  /** After a commit: waiters of woken devices lease (again). */
  woken(deviceId: string): void {
    for (const w of this.byDevice.get(deviceId) ?? []) {
      if (w.state === 'leasing') w.again = true;
      else this.lease(w);
    }
  }

  endGroup(): void {
    this.drained.clear();
  }

  /** Every waiter gets [] (the engine is stopping). */
  close(): void {
    for (const set of this.byDevice.values()) for (const w of set) this.abort(w);
  }

  private lease(w: Waiter): void {
    w.state = 'leasing';
    w.again = false;
    this.submit({ kind: 'lease', deviceId: w.deviceId, max: w.max }).then(
      (r) => this.leased(w, r),
      (err: unknown) => this.leased(w, err instanceof Error ? err : new Error(String(err))),
    );
  }

  private leased(w: Waiter, r: QueueOpResult | Error): void {
    if (r instanceof Error || !r.ok) {
      this.remove(w);
      w.reject(r instanceof Error ? r : r.error === 'ServerError' ? r.cause : new Error(r.error));
      return;
    }
    const deliveries = 'deliveries' in r ? r.deliveries : [];
    if (deliveries.length > 0 || w.aborted) {
      this.remove(w);
      w.resolve(deliveries);
      return;
    }
    if (w.again) this.lease(w);
    else w.state = 'parked';
  }

  private abort(w: Waiter): void {
    if (w.aborted) return;
    w.aborted = true;
    // A lease in flight resolves it (the caller gives back what it cannot use).
    if (w.state === 'leasing') return;
    this.remove(w);
    w.resolve([]);
  }

  private remove(w: Waiter): void {
    const set = this.byDevice.get(w.deviceId);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) this.byDevice.delete(w.deviceId);
  }
}
