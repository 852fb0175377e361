/**
 * WAL checkpoints off the main thread. SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses its threshold: the event loop then waits while WAL pages are copied into the database
 * file and that file is synced. Here a worker thread with a connection of its own runs a PASSIVE
 * checkpoint every few milliseconds instead (PASSIVE never waits for, nor blocks, the writer), so
 * the main connection's commits only append to the WAL and sync it. The main connection keeps a
 * high automatic threshold as a safety net should this thread fall behind or stop.
 *
 * Durability is unchanged: a commit is durable once its WAL frames are synced (WalSync, before it
 * is answered); a checkpoint only moves committed pages into the database file, and SQLite syncs
 * the WAL before it and the database file after it.
 *
 * The worker runs the compiled checkpoint-worker.js; under tsx (tests) the one in dist/.
 */
import { Worker } from 'node:worker_threads';
import { compiledWorkerScript } from './worker-script.js';

/** How often the worker checkpoints (ms). */
export const CHECKPOINT_INTERVAL_MS = 20;
/** WAL pages after which the main connection checkpoints by itself (SQLite's default is 1000). */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 20_000;

export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
}

export class Checkpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | undefined;

  /** `onError`: the worker failed (the main connection's own checkpoints carry on). */
  constructor(path: string, onError: (err: Error) => void) {
    const data: CheckpointWorkerData = { path, intervalMs: CHECKPOINT_INTERVAL_MS };
    this.worker = new Worker(compiledWorkerScript('./checkpoint-worker.js', import.meta.url), { workerData: data });
    this.worker.on('error', onError);
    // Never keeps the process alive by itself.
    this.worker.unref();
  }

  /** Ends the worker after its current checkpoint; its connection is closed first. */
  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      // Waited for now: keep the process up until it has closed its connection.
      this.worker.ref();
      this.worker.postMessage('stop');
    });
    return this.stopped;
  }
}
