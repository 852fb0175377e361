/** Items pushed by an event handler, awaited in order by a test. */
import { withTimeout } from './wait.js';

export class Inbox<T> {
  private items: T[] = [];
  private waiters: Array<(t: T) => void> = [];

  push = (t: T): void => {
    const w = this.waiters.shift();
    if (w) w(t);
    else this.items.push(t);
  };

  /** The next item, in order; fails after timeoutMs naming `what`. */
  next(timeoutMs = 15_000, what = 'a message'): Promise<T> {
    const queued = this.items.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    let waiter!: (t: T) => void;
    const p = new Promise<T>((resolve) => {
      waiter = resolve;
      this.waiters.push(resolve);
    });
    // A waiter that timed out must not swallow a later item.
    return withTimeout(p, timeoutMs, what).finally(() => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
    });
  }
}
