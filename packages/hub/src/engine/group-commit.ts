/**
 * Group commit: operations that arrive while a commit is in flight, or in the same turn of the
 * event loop, are written together in the next single transaction, then each op's callback is
 * answered. One fsync then acknowledges many operations. Each op has its own result, so one
 * failing item does not fail the others; only a failed transaction fails the whole group.
 *
 * A store may report a commit before it is on disk (`onCommitted`: SQLite, whose WAL is synced
 * after the transaction, off the event loop). Then the group's deliveries (leases) are handed out
 * and its follow-up (signals, deadlines) runs at once, and the next group is written while the
 * disk syncs this one; every other answer (a send's acceptance, a settle) still waits for the
 * sync. A power cut before the sync can take back a delivery, never an acknowledgement: the
 * message is delivered again, or its sender, never answered, sends it again. That is
 * at-least-once, as before; what it saves is the sync time a device's message used to wait for,
 * twice when it arrived while the previous group was syncing.
 *
 * Settles wait a little for company: a group that would hold nothing but settles (a device's
 * completes, feedback settles) waits up to `settleDelayMs` for other work, and goes with the first
 * op of another kind, at once. At a steady few thousand messages a second a complete then shares
 * the next send's transaction and sync instead of having its own: half the transactions, with no
 * delivery waiting for it (nothing is delivered by a settle; an MQTT PUBACK has no answer, and an
 * HTTPS complete's answer comes at most that much later).
 */
import type { CommitResult, QueueOp, QueueOpResult } from '../store/types.js';

interface Waiting {
  op: QueueOp;
  /** The op's result, or the error that failed its whole group. */
  done: (r: QueueOpResult | Error) => void;
}

/**
 * Groups committed and waiting for the disk at once. Syncs coalesce, so these share one or two
 * syncs; the bound keeps a stalled disk from letting groups pile up (the senders' own windows
 * bound them sooner).
 */
export const MAX_SYNCING_GROUPS = 8;

export class GroupCommitter {
  private queue: Waiting[] = [];
  /**
   * A group is on its way: its flush is scheduled (or, settles alone, waiting for company) or its
   * transaction is being written, until it is committed or failed.
   */
  private writing = false;
  /** Groups reported committed (onCommitted) whose sync has not answered yet. */
  private syncing = 0;
  private idleWaiters: Array<() => void> = [];
  /** The timer of a group of settles waiting for company. */
  private settleWait: NodeJS.Timeout | undefined;

  /**
   * @param commit writes one group in one transaction; may report it committed before it resolves
   * @param afterCommit runs after each successful group (signals, scheduler), never throws back
   * @param maxGroup bounds one transaction's size
   * @param extend may add ops (with their own result handlers) at the end of a group before it is written
   * @param onCallbackError told when a result handler throws (a bug: the others are still answered)
   * @param settleDelayMs how long a group of settles alone waits for other ops (0: not at all)
   */
  constructor(
    private readonly commit: (ops: QueueOp[], onCommitted: (result: CommitResult) => void) => Promise<CommitResult>,
    private readonly afterCommit: (result: CommitResult, ops: QueueOp[]) => void,
    private readonly maxGroup = 1000,
    private readonly extend?: (
      ops: readonly QueueOp[],
      add: (op: QueueOp, onResult: (r: QueueOpResult | Error) => void) => void,
    ) => void,
    private readonly onCallbackError: (err: unknown) => void = () => undefined,
    private readonly settleDelayMs = 0,
  ) {}

  /** Calls `done` with the op's result once its group is committed (or with the group's error). */
  submitTo(op: QueueOp, done: (r: QueueOpResult | Error) => void): void {
    this.queue.push({ op, done });
    if (this.settleWait !== undefined && !isSettle(op)) {
      // Company came: the settles go with it, now.
      clearTimeout(this.settleWait);
      this.settleWait = undefined;
      this.writing = false;
    }
    this.schedule();
  }

  /** Resolves when nothing is queued, being written or waiting for the disk. */
  idle(): Promise<void> {
    if (this.quiet) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get quiet(): boolean {
    return !this.writing && this.syncing === 0 && this.queue.length === 0;
  }

  /** One op's answer; a callback that throws is reported and does not stop the others. */
  private answer(w: Waiting, r: QueueOpResult | Error): void {
    try {
      w.done(r);
    } catch (err) {
      this.onCallbackError(err);
    }
  }

  private schedule(): void {
    if (this.writing || this.queue.length === 0 || this.syncing >= MAX_SYNCING_GROUPS) return;
    this.writing = true;
    if (this.settleDelayMs > 0 && this.queue.every((w) => isSettle(w.op))) {
      this.settleWait = setTimeout(() => {
        this.settleWait = undefined;
        void this.flush();
      }, this.settleDelayMs);
      return;
    }
    // setImmediate, not a microtask: lets this turn's I/O callbacks add their ops to the group.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    const group = this.queue.splice(0, this.maxGroup);
    const ops = group.map((w) => w.op);
    this.extend?.(ops, (op, onResult) => {
      group.push({ op, done: onResult });
      ops.push(op);
    });
    let committedEarly = false;
    const onCommitted = (result: CommitResult) => {
      if (committedEarly) return;
      committedEarly = true;
      this.writing = false;
      this.syncing++;
      for (let i = 0; i < group.length; i++) {
        const w = group[i]!;
        if (isDelivery(w.op)) this.answer(w, result.results[i] ?? missingResult(i, w.op));
      }
      // Called from inside the store's commit: a throw here must not turn into the commit's error.
      try {
        this.afterCommit(result, ops);
      } catch (err) {
        this.onCallbackError(err);
      }
      this.schedule();
    };
    let result: CommitResult | undefined;
    let error: Error | undefined;
    try {
      result = await this.commit(ops, onCommitted);
    } catch (err) {
      error = toError(err);
    }
    if (committedEarly) this.syncing--;
    else this.writing = false;
    for (let i = 0; i < group.length; i++) {
      const w = group[i]!;
      if (committedEarly && isDelivery(w.op)) continue;
      this.answer(w, result ? (result.results[i] ?? missingResult(i, w.op)) : error!);
    }
    if (result && !committedEarly) this.afterCommit(result, ops);
    this.schedule();
    if (this.quiet) for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

/** Ops that deliver nothing and may wait for company (settleDelayMs). */
function isSettle(op: QueueOp): boolean {
  return op.kind === 'settle' || op.kind === 'settleFeedback';
}

/** Ops whose answer hands messages out (and acknowledges nothing): answered once committed. */
function isDelivery(op: QueueOp): boolean {
  return op.kind === 'lease' || op.kind === 'leaseFeedback';
}

function missingResult(i: number, op: QueueOp): Error {
  return new Error(`store returned no result for op ${i} (${op.kind})`);
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
