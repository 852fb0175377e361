/** Requests answered on the same connection (twin GET and PATCH): matched by request id, failed together when it drops. */
import { FerryError } from '@ferry/common';

interface Waiting<T> {
  resolve(reply: T): void;
  reject(err: FerryError): void;
  timer: NodeJS.Timeout;
}

/** How long the hub has to answer a twin request before it counts as lost (transient). */
export const REQUEST_TIMEOUT_MS = 30_000;

export class Correlator<T> {
  private readonly waiting = new Map<string, Waiting<T>>();
  private next = 0;

  /** A request id unique on this client. */
  newId(): string {
    return String(++this.next);
  }

  /** The answer to request `id`; rejects with ServiceUnavailable when none comes within the time-out. */
  wait(id: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new FerryError('ServiceUnavailable', `The hub did not answer request ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.waiting.set(id, { resolve, reject, timer });
    });
  }

  /** An answer came; false when nothing waits for it (late, or not ours). */
  answer(id: string, reply: T): boolean {
    const w = this.waiting.get(id);
    if (!w) return false;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(reply);
    return true;
  }

  /** The connection is gone: every request waiting fails with `err`. */
  failAll(err: FerryError): void {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiting.clear();
  }
}
