/**
 * The worker side of WorkerStore: one SqliteStore in a thread of its own, answering the main
 * thread's calls in order. Buffers arrive as plain Uint8Arrays (structured clone), so message
 * bodies become Buffers again before they reach better-sqlite3.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { NewEvent } from '../event-log.js';
import type { CommitResult, QueueOp } from '../types.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
import { type Call, type Reply, toBuffer, wireError } from './worker-wire.js';

if (!parentPort) throw new Error('store-worker.js runs as a worker thread');
const port = parentPort;

let store: SqliteStore | undefined;
try {
  store = new SqliteStore(workerData as SqliteStoreOptions);
  port.postMessage({ id: 0, ok: true, value: null } satisfies Reply);
} catch (err) {
  port.postMessage({ id: 0, ok: false, error: wireError(err) } satisfies Reply);
}

port.on('message', (call: Call) => {
  void answer(call).then((reply) => {
    try {
      port.postMessage(reply);
    } catch (err) {
      // Something in the answer cannot be cloned: the caller gets an error instead of no answer.
      port.postMessage({ id: reply.id, ok: false, error: wireError(err) } satisfies Reply);
    }
  });
});

async function answer({ id, method, args }: Call): Promise<Reply> {
  try {
    if (!store) throw new Error('the store did not open');
    if (method === 'commit') {
      const ops = args[0] as QueueOp[];
      for (const op of ops) if (op.kind === 'enqueue') op.message.body = toBuffer(op.message.body);
    } else if (method === 'appendEvents') {
      for (const e of args[0] as NewEvent[]) e.body = toBuffer(e.body);
    }
    const fn = store[method] as (...a: unknown[]) => Promise<unknown>;
    let value = await fn.apply(store, args);
    if (method === 'commit') {
      // A failed op's cause is any thrown value: it crosses as a plain error description.
      const r = value as CommitResult;
      value = {
        ...r,
        results: r.results.map((x) => (!x.ok && x.error === 'ServerError' ? { ...x, cause: wireError(x.cause) } : x)),
      };
    }
    if (method === 'close') setImmediate(() => port.close());
    return { id, ok: true, value };
  } catch (err) {
    return { id, ok: false, error: wireError(err) };
  }
}
