import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { runStoreContract } from './store-contract.js';
import { runSharedStoreContract } from './store-contract-shared.js';

runStoreContract('sqlite :memory:', async () => new SqliteStore({ path: ':memory:' }));

const dir = mkdtempSync(join(tmpdir(), 'ferry-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
runStoreContract('sqlite file (WAL)', async () => new SqliteStore({ path: join(dir, `contract-${n++}.db`) }));

describe('SqliteStore specifics', () => {
  test('a file database uses WAL and synchronous FULL by default, NORMAL when asked', async () => {
    const path = join(dir, 'pragmas.db');
    const s = new SqliteStore({ path });
    await s.close();
    const db = new Database(path);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    // synchronous is per connection, so check it through a store that is open.
    for (const [opt, want] of [
      [undefined, 2],
      ['NORMAL', 1],
    ] as const) {
      const store = new SqliteStore(opt ? { path, synchronous: opt } : { path });
      const inner = (store as unknown as { db: Database.Database }).db;
      assert.equal(inner.pragma('synchronous', { simple: true }), want);
      await store.close();
    }
  });

  test('migrations are recorded once and reopening does not re-run them', async () => {
    const path = join(dir, 'migrate.db');
    await new SqliteStore({ path }).close();
    await new SqliteStore({ path }).close();
    const db = new Database(path);
    const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{
      version: number;
    }>;
    assert.deepEqual(
      rows.map((r) => r.version),
      MIGRATIONS.map((m) => m.version),
    );
    db.close();
  });

  test('a database from a newer Ferry is refused', async () => {
    const path = join(dir, 'newer.db');
    await new SqliteStore({ path }).close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('future');
    db.close();
    assert.throws(() => new SqliteStore({ path }), /newer/);
  });

  test('misspelled or invalid options are named in the error', () => {
    assert.throws(() => new SqliteStore({ path: ':memory:', sync: 'FULL' } as never), /unknown option "sync"/);
    assert.throws(() => new SqliteStore({ path: ':memory:', synchronous: 'OFF' } as never), /synchronous/);
    assert.throws(() => new SqliteStore({ path: '' }), /path/);
  });
});

runSharedStoreContract('sqlite file (WAL)', async () => {
  const path = join(dir, `shared-${n++}.db`);
  const first = new SqliteStore({ path });
  return [first, new SqliteStore({ path })];
});
