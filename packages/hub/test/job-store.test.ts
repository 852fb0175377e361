import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { WorkerStore } from '../src/store/sqlite/worker-store.js';
import { runJobStoreContract } from './job-store-contract.js';
import { dropSchemasWhenPassed, openTestStore } from './pg-test-db.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-jobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

runJobStoreContract('sqlite :memory:', async () => new SqliteStore({ path: ':memory:' }));
runJobStoreContract('sqlite in a worker thread', async () =>
  WorkerStore.open({ path: join(dir, `jobs-${n++}.db`), synchronous: 'NORMAL' }),
);
dropSchemasWhenPassed();
runJobStoreContract('postgres', () => openTestStore());
