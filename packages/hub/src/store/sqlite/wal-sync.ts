/**
 * Writes answered once they are on disk, without the event loop waiting for the disk.
 *
 * With synchronous=FULL, SQLite syncs the WAL inside COMMIT, on the calling thread: at a paced
 * 5,000 messages/s the hub's one JavaScript thread spent about half its time in fdatasync, not
 * reading sockets. Instead the connection runs with synchronous=NORMAL (COMMIT appends its frames
 * to the WAL with write() and returns; SQLite still syncs the WAL before every checkpoint and its
 * header when it starts the WAL over) and WalSync calls fdatasync on the WAL file from libuv's
 * thread pool. A write is answered only after an fdatasync that began after the write returned.
 * The disk then holds the same bytes before the answer as with FULL: fdatasync flushes the file,
 * whichever descriptor asks, and recovery replays the WAL up to its last complete commit, so a
 * crash or power cut keeps a prefix of the commits that contains every answered one.
 *
 * Syncs coalesce: writes made while one runs share the next. While the store is busy (its writes
 * carried BUSY_OPS_PER_MS operations or more per millisecond over the last RATE_WINDOW_MS: an
 * open-loop load such as a sender paced at thousands of messages a second, or many senders), a
 * sync also begins no sooner than SYNC_GAP_MS after the previous one began, so that the writes of
 * the next millisecond or two share it. At a paced 5,000 sends/s that halves the syncs, and with
 * them the thread-pool wake-ups and the acknowledgement writes to senders (each sync's answers
 * leave together): about a sixth of the hub's CPU per message. A sender that waits for its
 * answers before sending more, with a few sends in flight, stays under that rate and keeps its
 * syncs at once (for it a gap would only lengthen each round trip; with 16 in flight it costs
 * about a tenth of its throughput, docs/store-hot-path.md). Nothing is answered sooner either
 * way; deliveries to devices do not wait for the sync. A failed fdatasync is final (after
 * EIO the kernel may have dropped the dirty pages and report the next sync as clean): every later
 * write fails too, until the hub is restarted and SQLite recovers from what the disk holds.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import type { Clock, TimerHandle } from '../../clock.js';

type Done = (err: Error | null) => void;

/** The least time from one sync's start to the next one's while the store is busy (ms). */
export const SYNC_GAP_MS = 2;
/** Busy: the writes carried at least this many operations per ms over the last rate window. */
export const BUSY_OPS_PER_MS = 12;
/** The window over which the rate of operations is measured (ms). */
export const RATE_WINDOW_MS = 10;
/** fs.fdatasync's shape; tests hold the callback to see what waits for it. */
export type SyncFile = (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;

/** performance.now() (sub-millisecond: the rate window is 10 ms) and a plain timer; tests pass a ManualClock. */
const PRECISE_CLOCK: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export class WalSync {
  private fd: number | undefined;
  private running = false;
  private waiting: Done[] = [];
  private failed: Error | undefined;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];
  /** Operations written since windowStart (clock.now()); whether the last window was busy. */
  private windowOps = 0;
  private windowStart = Number.NEGATIVE_INFINITY;
  private busy = false;
  /** When the last sync began (clock.now()); the timer that begins the next one. */
  private lastStart = Number.NEGATIVE_INFINITY;
  private gapTimer: TimerHandle | undefined;

  /**
   * `walPath`: the database file's path + '-wal', which SQLite has open once the connection has
   * read the database (the file exists while a connection is open).
   */
  constructor(
    private readonly walPath: string,
    private readonly syncFile: SyncFile = fdatasync,
    private readonly gapMs = SYNC_GAP_MS,
    private readonly clock: Clock = PRECISE_CLOCK,
  ) {}

  /**
   * Calls `done` once every write made to the WAL before this call is on disk. `ops`: how many
   * operations the write carries (a group commit's size), which tells a busy store.
   */
  after(done: Done, ops = 1): void {
    if (this.failed || this.closed) {
      done(this.failed ?? new Error(`${this.walPath}: the store is closed`));
      return;
    }
    this.waiting.push(done);
    this.countOps(ops);
    if (!this.running) this.startSoon();
  }

  /** Promise form of after(). */
  durable(ops = 1): Promise<void> {
    return new Promise((resolve, reject) => this.after((err) => (err ? reject(err) : resolve()), ops));
  }

  /** Blocks until the WAL is on disk (start-up and close, where nothing else runs). */
  syncNow(): void {
    if (this.failed) throw this.failed;
    fdatasyncSync(this.descriptor());
  }

  /** Waits for the sync in flight and those queued, then closes the descriptor. */
  async close(): Promise<void> {
    if (this.gapTimer) this.start();
    while (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Measures the rate of operations per window: one slow window (or an idle spell) ends busy. */
  private countOps(ops: number): void {
    const now = this.clock.now();
    const elapsed = now - this.windowStart;
    if (elapsed >= RATE_WINDOW_MS) {
      this.busy = this.windowOps >= BUSY_OPS_PER_MS * elapsed;
      this.windowStart = now;
      this.windowOps = 0;
    }
    this.windowOps += ops;
  }

  /** Begins a sync now, or once the gap since the last one has passed while the store is busy. */
  private startSoon(): void {
    if (this.gapTimer) return;
    const wait = this.busy ? this.lastStart + this.gapMs - this.clock.now() : 0;
    if (wait <= 0) {
      this.start();
      return;
    }
    this.gapTimer = this.clock.setTimer(() => this.start(), wait);
  }

  private start(): void {
    this.gapTimer?.cancel();
    this.gapTimer = undefined;
    const batch = this.waiting;
    this.waiting = [];
    this.lastStart = this.clock.now();
    this.running = true;
    if (this.failed) {
      this.finish(batch, this.failed);
      return;
    }
    let fd: number;
    try {
      fd = this.descriptor();
    } catch (err) {
      this.finish(batch, walSyncFailed(this.walPath, toError(err)));
      return;
    }
    this.syncFile(fd, (err) => this.finish(batch, err ? walSyncFailed(this.walPath, err) : null));
  }

  private finish(batch: Done[], err: Error | null): void {
    if (err) this.failed ??= err;
    this.running = false;
    for (const done of batch) {
      try {
        done(this.failed ?? null);
      } catch (thrown) {
        // A bug in a caller: surfaces as an uncaught exception, but the syncs go on.
        queueMicrotask(() => {
          throw thrown;
        });
      }
    }
    // A callback may have asked for a sync already (then one runs, or waits for the gap).
    if (!this.running && this.waiting.length > 0) this.startSoon();
    if (!this.running && !this.gapTimer) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * The WAL's descriptor, opened once. SQLite writes through the descriptor it opened when the
   * connection first read the database and keeps it until the connection closes (it deletes the
   * WAL only when the last connection closes), so the file to sync is the one that was at the path
   * then: were the path ever replaced, this descriptor still names the file SQLite writes to.
   */
  private descriptor(): number {
    this.fd ??= openSync(this.walPath, 'r+');
    return this.fd;
  }
}

function walSyncFailed(path: string, cause: Error): Error {
  return new Error(
    `${path}: syncing the WAL failed (${cause.message}); writes since the last sync may not be on disk. ` +
      'Check the disk, then restart the hub (SQLite recovers from what the disk holds).',
    { cause },
  );
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
