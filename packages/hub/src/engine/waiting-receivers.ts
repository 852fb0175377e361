/**
 * Direct delivery: a receiver with room that found the queue empty waits here instead of leasing
 * again on every signal. When a group about to be committed holds an enqueue for its device, a
 * lease for it is added to the same group, after the enqueue, so an online device's message is
 * enqueued and leased in one transaction (then completed in a second one). Any other wake-up
 * (abandon, release, lock expiry) submits the lease in the next group.
 *
 * A receiver is registered once per connection and reused for every wait (an MQTT pump waits
 * after almost every message): no promise or closure per wait, so a thousand devices each
 * waiting a few hundred milliseconds leave the young generation nothing to copy.
 *
 * States: idle (not wanting), parked (wanting; nothing leased, nothing in flight), leasing (a
 * lease op is in a group). A wake-up that lands while it is leasing makes it lease again when
 * that lease comes back empty, so no wake-up is lost.
 */
import type { Delivery } from '@ferry/common';
import type { QueueOp, QueueOpResult } from '../store/types.js';

/** A receiver registered with the engine (C2dEngine.openReceiver). */
export interface DirectReceiver {
  /**
   * Wait for messages: the next non-empty lease of up to `max` goes to `onDeliveries`, after
   * which the receiver is idle until `want` is called again. Called while waiting, updates max.
   */
  want(max: number): void;
  /** Stop waiting. True when a lease is in flight: it still ends in `onDeliveries` (maybe with []). */
  pause(): boolean;
  /** For good: pause, and forget the receiver. */
  close(): void;
}

export interface ReceiverHandlers {
  /**
   * A lease for the receiver: its messages (the receiver's to publish or release), or [] when a
   * lease in flight at pause() came back empty, or when the engine stops.
   */
  onDeliveries(deliveries: Delivery[]): void;
  /** A lease failed (the store); the receiver is idle. */
  onError(err: Error): void;
}

/** What the committer needs to add a lease op to the group it is about to write. */
export type AddOp = (op: QueueOp, onResult: (r: QueueOpResult | Error) => void) => void;

class Receiver implements DirectReceiver {
  max = 0;
  wanting = false;
  state: 'idle' | 'parked' | 'leasing' = 'idle';
  /** Woken while leasing: lease again if the lease comes back empty. */
  again = false;
  closed = false;
  /** The lease in flight: its max, and whether it is a direct lease (the last op of its group). */
  leaseMax = 0;
  direct = false;
  /** Result handler of this receiver's lease ops (one function for the receiver's life). */
  readonly leased: (r: QueueOpResult | Error) => void;

  constructor(
    readonly deviceId: string,
    readonly handlers: ReceiverHandlers,
    private readonly owner: WaitingReceivers,
    /** The receiver's protocol, carried by its lease ops into the messages' history. */
    readonly protocol: string | undefined,
  ) {
    this.leased = (r) => owner.leased(this, r);
  }

  want(max: number): void {
    if (this.closed) return;
    this.max = Math.min(this.owner.maxLease, Math.max(0, Math.floor(max)));
    this.wanting = this.max > 0;
    if (!this.wanting) {
      this.pause();
      return;
    }
    if (this.state === 'idle') {
      this.state = 'parked';
      this.owner.park(this);
    }
  }

  pause(): boolean {
    this.wanting = false;
    if (this.state === 'parked') {
      this.state = 'idle';
      this.owner.unpark(this);
    }
    return this.state === 'leasing';
  }

  close(): void {
    this.pause();
    this.closed = true;
  }
}

export class WaitingReceivers {
  /** Receivers parked or leasing, by device (nearly always one: an array is smaller than a Set). */
  private readonly byDevice = new Map<string, Receiver[]>();
  /** Devices whose direct lease in the last group came back short: their queue is empty. */
  private readonly drained = new Set<string>();
  private stopped = false;
  /**
   * Leases answered in this commit, to hand to their receivers in one microtask (one per commit,
   * not a microtask and a closure per receiver): handing[i] gets batches[i].
   */
  private readonly handing: Receiver[] = [];
  private readonly batches: Delivery[][] = [];
  private readonly handOver = () => {
    let failure: { err: unknown } | undefined;
    // What a handler adds meanwhile is handed over by this loop too.
    for (let i = 0; i < this.handing.length; i++) {
      try {
        this.handing[i]!.handlers.onDeliveries(this.batches[i]!);
      } catch (err) {
        failure ??= { err };
      }
    }
    this.handing.length = 0;
    this.batches.length = 0;
    // A handler that threw throws out of the microtask, as it did when each had its own.
    if (failure) throw failure.err;
  };

  /**
   * @param submit submits a lease op to the next group, its result to the callback
   * @param maxLease the most one lease of a receiver may take
   * @param judge sees each lease's answer first (the engine takes back locks that came too late)
   */
  constructor(
    private readonly submit: (op: QueueOp, onResult: (r: QueueOpResult | Error) => void) => void,
    readonly maxLease = Number.POSITIVE_INFINITY,
    private readonly judge: (deviceId: string, r: QueueOpResult | Error) => QueueOpResult | Error = (_, r) => r,
  ) {}

  /** A receiver for the device, idle until its first want(). */
  open(deviceId: string, handlers: ReceiverHandlers, protocol?: string): DirectReceiver {
    return new Receiver(deviceId, handlers, this, protocol);
  }

  /** Before a group is written: a lease after it for each parked receiver of a device it enqueues to. */
  extendGroup(ops: readonly QueueOp[], add: AddOp): void {
    if (this.byDevice.size === 0) return;
    // A device's later enqueues find its receivers leasing already (no set of devices seen).
    for (const op of ops) {
      if (op.kind !== 'enqueue') continue;
      const list = this.byDevice.get(op.message.deviceId);
      if (!list) continue;
      for (const r of list) {
        if (r.state !== 'parked') continue;
        r.state = 'leasing';
        r.again = false;
        r.leaseMax = r.max;
        r.direct = true;
        add(leaseOp(r, true), r.leased);
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

  /** After a commit: receivers of woken devices lease (again). */
  woken(deviceId: string): void {
    const list = this.byDevice.get(deviceId);
    if (!list) return;
    for (const r of list) {
      if (r.state === 'leasing') r.again = true;
      else if (r.state === 'parked') this.lease(r);
    }
  }

  /** Wake-ups may have been missed: every waiting receiver leases (again). */
  wakeAll(): void {
    for (const deviceId of [...this.byDevice.keys()]) this.woken(deviceId);
  }

  endGroup(): void {
    this.drained.clear();
  }

  /** After close(): receivers may wait again (the engine started again). */
  reopen(): void {
    this.stopped = false;
  }

  /** Every receiver gets [] (the engine is stopping); a lease in flight still ends as it ends. */
  close(): void {
    this.stopped = true;
    for (const list of [...this.byDevice.values()]) {
      for (const r of [...list]) {
        if (r.state === 'leasing') {
          r.wanting = false;
          continue;
        }
        r.state = 'idle';
        r.wanting = false;
        this.unpark(r);
        r.handlers.onDeliveries([]);
      }
    }
  }

  park(r: Receiver): void {
    if (this.stopped) {
      r.state = 'idle';
      r.wanting = false;
      r.handlers.onDeliveries([]);
      return;
    }
    const list = this.byDevice.get(r.deviceId);
    if (!list) this.byDevice.set(r.deviceId, [r]);
    else if (!list.includes(r)) list.push(r);
  }

  unpark(r: Receiver): void {
    const list = this.byDevice.get(r.deviceId);
    const at = list?.indexOf(r) ?? -1;
    if (at === -1) return;
    if (list!.length === 1) this.byDevice.delete(r.deviceId);
    else list!.splice(at, 1);
  }

  leased(r: Receiver, answer: QueueOpResult | Error): void {
    const result = this.judge(r.deviceId, answer);
    if (result instanceof Error || !result.ok) {
      r.state = 'idle';
      r.wanting = false;
      this.unpark(r);
      r.handlers.onError(
        result instanceof Error
          ? result
          : result.error === 'ServerError'
            ? toError(result.cause)
            : new Error(result.error),
      );
      return;
    }
    const deliveries = 'deliveries' in result ? result.deliveries : [];
    // A direct lease is the last op of its group: short, it leaves the queue empty at commit.
    if (r.direct && deliveries.length < r.leaseMax) this.drained.add(r.deviceId);
    if (deliveries.length > 0 || !r.wanting) {
      r.state = 'idle';
      r.wanting = false;
      this.unpark(r);
      // After the commit's own follow-up (signals, wake-ups): a receiver that waits again at once
      // must not count as parked for the devices this very commit woke.
      this.handing.push(r);
      this.batches.push(deliveries);
      if (this.handing.length === 1) queueMicrotask(this.handOver);
      return;
    }
    if (r.again) this.lease(r);
    else r.state = 'parked';
  }

  private lease(r: Receiver): void {
    r.state = 'leasing';
    r.again = false;
    r.leaseMax = r.max;
    r.direct = false;
    this.submit(leaseOp(r, false), r.leased);
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The receiver's lease op (direct: added after its device's enqueues in the same group). */
function leaseOp(r: Receiver, direct: boolean): QueueOp {
  const op: QueueOp = direct
    ? { kind: 'lease', deviceId: r.deviceId, max: r.max, direct: true }
    : { kind: 'lease', deviceId: r.deviceId, max: r.max };
  if (r.protocol !== undefined) op.protocol = r.protocol;
  return op;
}
