/** The worker side of Checkpointer: a PASSIVE WAL checkpoint every intervalMs, until told to stop. */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointWorkerData } from './checkpointer.js';

if (!parentPort) throw new Error('checkpoint-worker.js runs as a worker thread');
const port = parentPort;
const { path, intervalMs } = workerData as CheckpointWorkerData;

const db = new Database(path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
// This connection never writes; it must not checkpoint on close either, while the hub runs on.
db.pragma('wal_autocheckpoint = 0');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

const timer = setInterval(() => checkpoint.run(), intervalMs);
port.on('message', (msg: unknown) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
