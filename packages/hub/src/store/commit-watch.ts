/**
 * Whether this node can commit, for /ready: a load balancer must be able to take out a node
 * whose database is restarting or paused, even though nothing fails loudly while it waits.
 *
 * The node is unavailable ("storage unavailable") while
 *   - the latest commit (or probe) to finish failed, until one succeeds; or
 *   - a commit (or probe) has been waiting longer than the timeout and none has succeeded in that
 *     time (a paused database, a disk that stopped answering, a pool with no connection left).
 * It is available again, by itself, as soon as one succeeds.
 *
 * An idle node commits nothing, so nothing would ever be late. When /ready is asked and no
 * commit is pending and none has succeeded for PROBE_AFTER_MS (or the last one failed), the
 * watch probes the store: `store.ping()`, one trivial round trip on the path commits take (a
 * pooled PostgreSQL connection, the SQLite worker thread), judged by the same deadline. A probe
 * writes nothing, so a read-only or full database is noticed by the first real commit, which
 * fails. Probes run only when /ready is asked: a node nobody asks costs nothing.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { QueueStore } from './types.js';

/** An idle node is probed when nothing succeeded for this long (at most one probe at a time). */
export const PROBE_AFTER_MS = 1000;

export interface CommitWatchOptions {
  /** How long a commit or a probe may wait before the node is unavailable. */
  timeoutMs: number;
  /** The probe of an idle node (Store.ping). */
  ping(): Promise<void>;
  logger: Logger;
  /** Monotonic milliseconds; injected by tests. */
  now?: () => number;
}

export class CommitWatch {
  /** Start times of commits and probes not answered yet, by call. */
  private readonly pending = new Map<number, number>();
  private nextId = 0;
  private lastSuccess: number;
  /** The error of the latest call to finish, when it failed. */
  private failure: string | undefined;
  private probing = false;
  /** The reason last reported, to log each change once. */
  private reported: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: CommitWatchOptions) {
    this.now = options.now ?? (() => performance.now());
    this.lastSuccess = this.now();
  }

  /** Watches one commit: its start, and whether and when it answered. */
  track<T>(call: Promise<T>): Promise<T> {
    const id = this.nextId++;
    this.pending.set(id, this.now());
    return call.then(
      (value) => {
        this.pending.delete(id);
        this.lastSuccess = this.now();
        this.failure = undefined;
        if (this.reported !== undefined) this.report(undefined);
        return value;
      },
      (err: unknown) => {
        this.pending.delete(id);
        this.failure = err instanceof Error ? err.message : String(err);
        throw err;
      },
    );
  }

  /** As unavailable(), without starting a probe: for a metrics scrape, which never touches the store. */
  unavailableNow(): string | undefined {
    return this.reason(this.now());
  }

  /**
   * Why the node cannot commit, or undefined when it can. Starts a probe when the node is idle
   * (see above); the probe's answer is seen by the next check.
   */
  unavailable(): string | undefined {
    const t = this.now();
    const reason = this.reason(t);
    if (!this.probing && this.pending.size === 0 && (reason !== undefined || t - this.lastSuccess >= PROBE_AFTER_MS)) {
      this.probe();
    }
    if (reason !== this.reported) this.report(reason);
    return reason;
  }

  private reason(t: number): string | undefined {
    if (this.failure !== undefined) return `the last commit failed: ${this.failure}`;
    const { timeoutMs } = this.options;
    if (t - this.lastSuccess <= timeoutMs) return undefined;
    let oldest = Number.POSITIVE_INFINITY;
    for (const start of this.pending.values()) oldest = Math.min(oldest, start);
    const waited = t - oldest;
    if (waited <= timeoutMs) return undefined;
    return `a commit has been waiting ${Math.round(waited)} ms (observability.readyStoreTimeoutMs ${timeoutMs})`;
  }

  private probe(): void {
    this.probing = true;
    const ping = Promise.resolve().then(() => this.options.ping());
    this.track(ping)
      .catch(() => undefined)
      .finally(() => {
        this.probing = false;
      });
  }

  private report(reason: string | undefined): void {
    const { logger } = this.options;
    if (reason === undefined) logger.info('the store commits again: /ready answers 200');
    else if (this.reported === undefined) logger.warn({ reason }, 'the store cannot commit: /ready answers 503');
    this.reported = reason;
  }
}

/** The store with its commits watched; every other call passes through unchanged. */
export function watchCommits<T extends QueueStore>(store: T, watch: CommitWatch): T {
  const commit: QueueStore['commit'] = (ops, now, policy, onCommitted) =>
    watch.track(store.commit(ops, now, policy, onCommitted));
  return new Proxy(store, {
    get(target, prop) {
      return prop === 'commit' ? commit : Reflect.get(target, prop, target);
    },
  });
}
