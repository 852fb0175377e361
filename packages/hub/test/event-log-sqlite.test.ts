import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { WorkerStore } from '../src/store/sqlite/worker-store.js';
import { runEventLogContract } from './event-log-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-events-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
runEventLogContract('sqlite file (WAL)', async () => new SqliteStore({ path: join(dir, `events-${n++}.db`) }));
runEventLogContract('sqlite in a worker thread', async () => WorkerStore.open({ path: join(dir, `worker-${n++}.db`) }));
