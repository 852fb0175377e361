/**
 * Group commit: operations that arrive while a commit is in flight, or in the same turn of the
 * event loop, are written together in the next single transaction, then each op's callback is
 * answered. One fsync then acknowledges many operations. Each op has its own result, so one
 * failing item does not fail the others; only a failed transaction fails the whole group.
 */
import type { CommitResult, QueueOp, QueueOpResult } from '../store/types.js';

interface Waiting {
  op: QueueOp;
  /** The op's result, or the error that failed its whole group. */
  done: (r: QueueOpResult | Error) => void;
}

export class GroupCommitter {
  private queue: Waiting[] = [];
  private busy = false;
  private idleWaiters: Array<() => void> = [];

  /**
   * @param commit writes one group in one transaction
   * @param afterCommit runs after each successful group (signals, scheduler), never throws back
   * @param maxGroup bounds one transaction's size
   * @param extend may add ops (with their own result handlers) at the end of a group before it is written
   * @param onCallbackError told when a result handler throws (a bug: the others are still answered)
   */
  constructor(
    private readonly commit: (ops: QueueOp[]) => Promise<CommitResult>,
    private readonly afterCommit: (result: CommitResult, ops: QueueOp[]) => void,
    private readonly maxGroup = 1000,
    private readonly extend?: (
      ops: readonly QueueOp[],
      add: (op: QueueOp, onResult: (r: QueueOpResult | Error) => void) => void,
    ) => void,
    private readonly onCallbackError: (err: unknown) => void = () => undefined,
  ) {}

  /** Calls `done` with the op's result once its group is committed (or with the group's error). */
  submitTo(op: QueueOp, done: (r: QueueOpResult | Error) => void): void {
    this.queue.push({ op, done });
    this.schedule();
  }

  /** Resolves when nothing is queued or being written. */
  idle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get quiet(): boolean {
    return !this.busy && this.queue.length === 0;
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
    if (this.busy) return;
    this.busy = true;
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
    let result: CommitResult | undefined;
    try {
      result = await this.commit(ops);
    } catch (err) {
      const error = toError(err);
      for (const w of group) this.answer(w, error);
    }
    if (result) {
      for (let i = 0; i < group.length; i++) {
        const w = group[i]!;
        this.answer(w, result.results[i] ?? new Error(`store returned no result for op ${i} (${w.op.kind})`));
      }
      this.afterCommit(result, ops);
    }
    if (this.queue.length > 0) {
      setImmediate(() => void this.flush());
      return;
    }
    this.busy = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
