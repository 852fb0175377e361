/**
 * Group commit for telemetry: appends that arrive while one is being written (or in the same turn
 * of the event loop) go to the store together in the next single transaction; each caller is
 * answered once that transaction is durable, never before. A failed transaction fails its group.
 */
import type { EventPosition, NewEvent } from '../store/event-log.js';

interface Waiting {
  events: readonly NewEvent[];
  done: (r: EventPosition[] | Error) => void;
}

export class AppendBatcher {
  private queue: Waiting[] = [];
  private writing = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly append: (events: NewEvent[]) => Promise<EventPosition[]>,
    private readonly onCallbackError: (err: unknown) => void,
    /** Events in one transaction at most (a caller's events are never split). */
    private readonly maxEvents = 2000,
  ) {}

  submit(events: readonly NewEvent[], done: (r: EventPosition[] | Error) => void): void {
    this.queue.push({ events, done });
    if (!this.writing) {
      this.writing = true;
      setImmediate(() => void this.flush());
    }
  }

  get quiet(): boolean {
    return !this.writing && this.queue.length === 0;
  }

  idle(): Promise<void> {
    if (this.quiet) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async flush(): Promise<void> {
    let count = 0;
    let take = 0;
    while (take < this.queue.length && (take === 0 || count + this.queue[take]!.events.length <= this.maxEvents)) {
      count += this.queue[take]!.events.length;
      take++;
    }
    const group = this.queue.splice(0, take);
    let result: EventPosition[] | Error;
    try {
      result = await this.append(group.flatMap((w) => w.events));
    } catch (err) {
      result = err instanceof Error ? err : new Error(String(err));
    }
    let at = 0;
    for (const w of group) {
      const mine = result instanceof Error ? result : result.slice(at, at + w.events.length);
      at += w.events.length;
      try {
        w.done(mine);
      } catch (err) {
        this.onCallbackError(err);
      }
    }
    if (this.queue.length > 0) {
      setImmediate(() => void this.flush());
      return;
    }
    this.writing = false;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}
