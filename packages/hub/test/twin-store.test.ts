import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { WorkerStore } from '../src/store/sqlite/worker-store.js';
import { dropSchemasWhenPassed, openTestStore } from './pg-test-db.js';
import { runTwinStoreContract } from './twin-store-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-twins-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

runTwinStoreContract('sqlite :memory:', async () => new SqliteStore({ path: ':memory:' }));
runTwinStoreContract('sqlite in a worker thread', async () =>
  WorkerStore.open({ path: join(dir, `twins-${n++}.db`), synchronous: 'NORMAL' }),
);
dropSchemasWhenPassed();
runTwinStoreContract('postgres', () => openTestStore());
