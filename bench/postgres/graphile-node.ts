/**
 * The anchor of the PostgreSQL bench: graphile-worker (a well-kept PostgreSQL job queue) on the
 * same server, adding and completing the same number of empty jobs as Ferry sends and completes
 * messages, with its batching on: jobs added with addJobs in groups as Ferry's group commit forms
 * them, fetched through its local queue, completions batched (completeJobBatchDelay).
 * Argument (JSON): { url, schema, jobs, addBatch, concurrency }. Protocol: child.ts.
 */
import { childRun } from './child.js';

/**
 * The part of graphile-worker's API this uses. It is loaded by name, so the workspace type-checks
 * where node_modules predates it (it is a devDependency: `npm install` brings it).
 */
interface GraphileWorker {
  Logger: new (factory: () => () => void) => object;
  makeWorkerUtils(options: { connectionString: string; schema: string; logger: object }): Promise<{
    migrate(): Promise<void>;
    addJobs(specs: ReadonlyArray<{ identifier: string; payload: unknown }>): Promise<unknown>;
    release(): Promise<void>;
  }>;
  run(options: Record<string, unknown>): Promise<{ stop(): Promise<void> }>;
}
const PACKAGE: string = 'graphile-worker';
const { Logger, makeWorkerUtils, run } = (await import(PACKAGE)) as GraphileWorker;

export interface GraphileTask {
  url: string;
  schema: string;
  jobs: number;
  /** Jobs per addJobs call, several calls in flight (as Ferry's concurrent senders). */
  addBatch: number;
  concurrency: number;
}

const task = JSON.parse(process.argv[2]!) as GraphileTask;
const logger = new Logger(() => () => {});
const utils = await makeWorkerUtils({ connectionString: task.url, schema: task.schema, logger });
await utils.migrate();

await childRun(
  async () => {
    // Adding: every group at once, as many senders would.
    const groups = Math.ceil(task.jobs / task.addBatch);
    await Promise.all(
      Array.from({ length: groups }, async (_, g) => {
        const n = Math.min(task.addBatch, task.jobs - g * task.addBatch);
        await utils.addJobs(Array.from({ length: n }, () => ({ identifier: 'empty', payload: {} })));
      }),
    );
    // Completing: a worker with its batching options on, until every job ran.
    let done = 0;
    let finished!: () => void;
    const all = new Promise<void>((resolve) => {
      finished = resolve;
    });
    const runner = await run({
      connectionString: task.url,
      schema: task.schema,
      logger,
      concurrency: task.concurrency,
      noHandleSignals: true,
      pollInterval: 100,
      taskList: {
        empty: async () => {
          if (++done === task.jobs) finished();
        },
      },
      preset: {
        worker: {
          maxPoolSize: task.concurrency + 2,
          localQueue: { size: Math.max(task.concurrency + 1, task.addBatch) },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    });
    await all;
    await runner.stop();
    return task.jobs * 2;
  },
  // Its transactions are its own business: the table shows none.
  () => 0,
  async () => {
    await utils.release();
  },
);
