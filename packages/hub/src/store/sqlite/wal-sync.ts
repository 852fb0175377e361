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
 * Syncs coalesce: writes made while one runs share the next. A failed fdatasync is final (after
 * EIO the kernel may have dropped the dirty pages and report the next sync as clean): every later
 * write fails too, until the hub is restarted and SQLite recovers from what the disk holds.
 */
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';

type Done = (err: Error | null) => void;
/** fs.fdatasync's shape; tests hold the callback to see what waits for it. */
export type SyncFile = (fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => void;

export class WalSync {
  private fd: number | undefined;
  private running = false;
  private waiting: Done[] = [];
  private failed: Error | undefined;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];

  /**
   * `walPath`: the database file's path + '-wal', which SQLite has open once the connection has
   * read the database (the file exists while a connection is open).
   */
  constructor(
    private readonly walPath: string,
    private readonly syncFile: SyncFile = fdatasync,
  ) {}

  /** Calls `done` once every write made to the WAL before this call is on disk. */
  after(done: Done): void {
    if (this.failed || this.closed) {
      done(this.failed ?? new Error(`${this.walPath}: the store is closed`));
      return;
    }
    this.waiting.push(done);
    if (!this.running) this.start();
  }

  /** Promise form of after(). */
  durable(): Promise<void> {
    return new Promise((resolve, reject) => this.after((err) => (err ? reject(err) : resolve())));
  }

  /** Blocks until the WAL is on disk (start-up and close, where nothing else runs). */
  syncNow(): void {
    if (this.failed) throw this.failed;
    fdatasyncSync(this.descriptor());
  }

  /** Waits for the sync in flight and those queued, then closes the descriptor. */
  async close(): Promise<void> {
    while (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private start(): void {
    const batch = this.waiting;
    this.waiting = [];
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
    // A callback may have asked for a sync already (then one runs).
    if (!this.running && this.waiting.length > 0) this.start();
    if (!this.running) for (const wake of this.idleWaiters.splice(0)) wake();
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
