import assert from 'node:assert/strict';
import { copyFileSync, existsSync, fstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SEQ_BLOCKS_AFTER } from '../src/store/sqlite/sequence-numbers.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { WalSync } from '../src/store/sqlite/wal-sync.js';
import { WorkerStore } from '../src/store/sqlite/worker-store.js';
import type { QueueOp } from '../src/store/types.js';
import { eventually } from './deadline.js';
import { runStoreContract } from './store-contract.js';
import { device, message, POLICY, syncWalThrough, T0 } from './store-contract-kit.js';
import { runSharedStoreContract } from './store-contract-shared.js';

runStoreContract('sqlite :memory:', async () => new SqliteStore({ path: ':memory:' }));

const dir = mkdtempSync(join(tmpdir(), 'ferry-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
runStoreContract('sqlite file (WAL)', async () => new SqliteStore({ path: join(dir, `contract-${n++}.db`) }));
runStoreContract('sqlite in a worker thread', async () => WorkerStore.open({ path: join(dir, `worker-${n++}.db`) }));

describe('SqliteStore specifics', () => {
  test('a file database uses WAL; FULL (default) syncs the WAL before answering, off the event loop', async () => {
    const path = join(dir, 'pragmas.db');
    const s = new SqliteStore({ path });
    await s.close();
    const db = new Database(path);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    // SQLite itself never syncs inside COMMIT (NORMAL, 1); with FULL the store syncs the WAL itself.
    for (const [opt, syncs] of [
      [undefined, true],
      ['FULL', true],
      ['NORMAL', false],
    ] as const) {
      const store = new SqliteStore(opt ? { path, synchronous: opt } : { path });
      const inner = store as unknown as { db: Database.Database; walSync?: WalSync };
      assert.equal(inner.db.pragma('synchronous', { simple: true }), 1);
      assert.equal(inner.walSync !== undefined, syncs, `synchronous ${opt}`);
      await store.close();
    }
  });

  test('commits, registry writes and session writes are answered only after the WAL sync', async () => {
    const path = join(dir, 'answered-after-sync.db');
    const store = new SqliteStore({ path });
    const held: Array<{ ino: number; finish: () => void }> = [];
    await syncWalThrough(store, path, (fd, callback) =>
      held.push({ ino: fstatSync(fd).ino, finish: () => callback(null) }),
    );
    const answered: string[] = [];
    const device1 = store.insertDevice(device('d')).then(() => answered.push('device'));
    await new Promise((r) => setImmediate(r));
    assert.equal(answered.length, 0, 'the device is written but not answered before the sync');
    assert.equal(held.length, 1);
    assert.equal(held[0]!.ino, statSync(`${path}-wal`).ino, 'the file synced is the WAL');
    // The event loop is free meanwhile: a read is answered, and sees the write.
    assert.equal((await store.getDevice('d'))?.deviceId, 'd');
    held[0]!.finish();
    await device1;
    const sent = store
      .commit([{ kind: 'enqueue', message: message('d', 'x') }], T0, POLICY)
      .then(() => answered.push('commit'));
    const session = store.putMqttSession({ deviceId: 'd', c2dQos: 1 }).then(() => answered.push('session'));
    // Their sync has begun and is held: until it finishes, neither may be answered.
    await eventually(() => held.length === 2, 'the sync of the commit and the session write');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(answered, ['device']);
    while (held.length < 3) {
      held.at(-1)!.finish();
      await new Promise((r) => setImmediate(r));
    }
    held.at(-1)!.finish();
    await Promise.all([sent, session]);
    assert.deepEqual(answered.sort(), ['commit', 'device', 'session']);
    await store.close();
  });

  test('a failed WAL sync fails the write it answers and every later one; reads go on', async () => {
    const path = join(dir, 'failed-sync.db');
    const store = new SqliteStore({ path });
    await store.insertDevice(device('d'));
    await syncWalThrough(store, path, (_fd, callback) =>
      callback(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })),
    );
    await assert.rejects(
      store.commit([{ kind: 'enqueue', message: message('d', 'x') }], T0, POLICY),
      /syncing the WAL failed \(EIO/,
    );
    await assert.rejects(store.insertDevice(device('e')), /syncing the WAL failed/);
    // Nothing is answered as durable any more, but the hub can still be looked at.
    assert.equal((await store.getDevice('d'))?.deviceId, 'd');
    await store.close();
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

  test('a version 1 database is migrated: a lock held then is released, and the message leased again', async () => {
    const path = join(dir, 'v1.db');
    const db = new Database(path);
    db.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    db.exec(MIGRATIONS[0]!.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (1, ?, 0)').run(MIGRATIONS[0]!.name);
    db.prepare(`INSERT INTO devices (device_id, generation_id, etag, status, status_updated_time, auth_type, iot_edge,
      next_seq) VALUES ('d', 'g', 'e', 'enabled', 'x', 'sas', 0, 3)`).run();
    const insert = db.prepare(`INSERT INTO c2d_messages (device_id, seq, ack, expiry, enqueued_at, properties, body,
      leased_before, lock_token, locked_until) VALUES ('d', ?, 'none', ?, ?, '{}', ?, ?, ?, ?)`);
    insert.run(1, T0 + 3_600_000, T0, Buffer.from('held'), 1, 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', T0 + 60_000);
    insert.run(2, T0 + 3_600_000, T0, Buffer.from('waiting'), 0, null, null);
    db.close();
    const store = new SqliteStore({ path });
    const lost = await store.commit(
      [{ kind: 'settle', deviceId: 'd', lockToken: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', action: 'complete' }],
      T0 + 1,
      POLICY,
    );
    assert.deepEqual(lost.results[0], { ok: false, error: 'DeviceMessageLockLost' });
    const { results } = await store.commit([{ kind: 'lease', deviceId: 'd', max: 5 }], T0 + 1, POLICY);
    const got = (results[0] as { deliveries: Array<{ body: Buffer; redelivered: boolean; sequenceNumber: number }> })
      .deliveries;
    assert.deepEqual(
      got.map((m) => [m.body.toString(), m.sequenceNumber, m.redelivered]),
      [
        ['held', 1, true],
        ['waiting', 2, false],
      ],
    );
    const sent = await store.commit([{ kind: 'enqueue', message: message('d', 'new') }], T0 + 1, POLICY);
    assert.deepEqual(sent.results[0], { ok: true, sequenceNumber: 3 });
    await store.close();
  });

  test('what another connection wrote to the file is seen, deadlines included', async () => {
    const path = join(dir, 'two-connections.db');
    const a = new SqliteStore({ path });
    const b = new SqliteStore({ path });
    await a.insertDevice(device('d'));
    // b has looked at the queue (nothing due) before a writes and leases a message.
    await b.commit([{ kind: 'lease', deviceId: 'd', max: 1 }], T0, POLICY);
    await a.commit([{ kind: 'enqueue', message: message('d', 'x') }], T0, POLICY);
    const first = await a.commit([{ kind: 'lease', deviceId: 'd', max: 1 }], T0, POLICY);
    const [m] = (first.results[0] as { deliveries: Array<{ lockedUntil: number; sequenceNumber: number }> }).deliveries;
    // At the lock's end b must see it due, and lease it again.
    const late = await b.commit([{ kind: 'lease', deviceId: 'd', max: 1 }], m!.lockedUntil, POLICY);
    const [again] = (late.results[0] as { deliveries: Array<{ sequenceNumber: number; redelivered: boolean }> })
      .deliveries;
    assert.deepEqual([again?.sequenceNumber, again?.redelivered], [m!.sequenceNumber, true]);
    await b.close();
    await a.close();
  });

  test('sequence numbers come from blocks while the store writes alone: never one twice, dense over a clean restart', async () => {
    const path = join(dir, `seq-blocks-${n++}.db`);
    const policy = { ...POLICY, maxQueueDepth: 10_000 };
    const nextSeq = (deviceId: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return (db.prepare('SELECT next_seq FROM devices WHERE device_id = ?').get(deviceId) as { next_seq: number })
          .next_seq;
      } finally {
        db.close();
      }
    };
    const seen: number[] = [];
    const send = async (store: SqliteStore, ...ops: QueueOp[]) => {
      const r = await store.commit(ops, T0, policy);
      const seqs = r.results.flatMap((x) => ('sequenceNumber' in x ? [x.sequenceNumber] : []));
      seen.push(...seqs);
      return r.results;
    };
    const enqueue = (text: string): QueueOp => ({ kind: 'enqueue', message: message('d', text) });
    const writeAlone = async (store: SqliteStore) => {
      for (let i = 0; i < SEQ_BLOCKS_AFTER; i++)
        await store.commit([{ kind: 'lease', deviceId: 'idle', max: 1 }], T0, policy);
    };
    let a = new SqliteStore({ path, synchronous: 'NORMAL' });
    await a.insertDevice(device('d'));
    await a.insertDevice(device('idle'));
    // Until the store has written alone for a while, every number is taken in the device's row.
    await send(a, enqueue('1'));
    assert.equal(nextSeq('d'), 2);
    await writeAlone(a);
    await send(a, enqueue('2'));
    const limit = nextSeq('d');
    assert.ok(limit > 3, `a block is reserved (next_seq ${limit})`);
    await send(a, enqueue('3'), enqueue('4'));
    assert.equal(nextSeq('d'), limit, 'numbers from the block do not rewrite the row');
    // A clean close gives the rest back: a restart goes on from the last one used.
    await a.close();
    assert.equal(nextSeq('d'), 5);
    a = new SqliteStore({ path, synchronous: 'NORMAL' });
    await send(a, enqueue('5'));
    await writeAlone(a);
    await send(a, enqueue('6'));
    // Another connection writing: its number comes after the whole block, and this store drops
    // the block (its next number comes after the other's).
    const b = new SqliteStore({ path, synchronous: 'NORMAL' });
    const [fromB] = await send(b, enqueue('b'));
    assert.ok((fromB as { sequenceNumber: number }).sequenceNumber >= nextSeq('d') - 1);
    await send(a, enqueue('7'));
    await b.close();
    // An op that throws rolls back the reservation it made; nothing reserved there is handed out twice.
    await writeAlone(a);
    const broken = { ...message('d', 'x'), body: { not: 'a buffer' } as unknown as Buffer };
    const results = await send(a, enqueue('8'), { kind: 'enqueue', message: broken }, enqueue('9'));
    assert.equal((results[1] as { error: string }).error, 'ServerError');
    await a.close();
    a = new SqliteStore({ path, synchronous: 'NORMAL' });
    await writeAlone(a);
    await send(a, enqueue('10'));
    // A device deleted and created again starts from 1, and a restart goes on from there.
    const beforeDelete = [...seen];
    assert.equal(await a.deleteDevice('d'), true);
    await a.insertDevice(device('d'));
    await send(a, enqueue('again'));
    assert.equal(seen.at(-1), 1);
    await a.close();
    a = new SqliteStore({ path, synchronous: 'NORMAL' });
    await send(a, enqueue('again 2'));
    assert.equal(seen.at(-1), 2);
    await a.close();
    // Before the delete: increasing in the order committed, none twice.
    for (let i = 1; i < beforeDelete.length; i++) {
      assert.ok(beforeDelete[i]! > beforeDelete[i - 1]!, `sequence numbers ${beforeDelete.join(', ')}`);
    }
    assert.equal(beforeDelete.length, 11);
  });

  test('numbers from a block still keep the queue depth and the device status (a bound in memory, checked again at the depth)', async () => {
    const path = join(dir, `seq-depth-${n++}.db`);
    const policy = { ...POLICY, maxQueueDepth: 5 };
    const store = new SqliteStore({ path, synchronous: 'NORMAL' });
    await store.insertDevice(device('d'));
    await store.insertDevice(device('idle'));
    for (let i = 0; i < SEQ_BLOCKS_AFTER; i++)
      await store.commit([{ kind: 'lease', deviceId: 'idle', max: 1 }], T0, policy);
    const run = async (op: QueueOp) => (await store.commit([op], T0, policy)).results[0] as Record<string, unknown>;
    const enqueue = (text: string) => run({ kind: 'enqueue', message: message('d', text) });
    const completeOne = async () => {
      const leased = (await run({ kind: 'lease', deviceId: 'd', max: 1 })) as {
        deliveries: Array<{ lockToken: string }>;
      };
      const lockToken = leased.deliveries[0]!.lockToken;
      assert.equal((await run({ kind: 'settle', deviceId: 'd', lockToken, action: 'complete' })).ok, true);
    };
    const accepted = (r: Record<string, unknown>) => typeof r.sequenceNumber === 'number';
    try {
      for (let i = 0; i < 5; i++) assert.ok(accepted(await enqueue(`m${i}`)), `m${i} refused`);
      assert.equal((await enqueue('over')).error, 'DeviceMaximumQueueDepthExceeded');
      // Completed messages make room again, one per message: the bound is checked against the count.
      await completeOne();
      await completeOne();
      assert.ok(accepted(await enqueue('after 1')));
      assert.ok(accepted(await enqueue('after 2')));
      assert.equal((await enqueue('over again')).error, 'DeviceMaximumQueueDepthExceeded');
      await completeOne();
      await completeOne();
      // Disabled with room in the queue: refused at the next enqueue, and taken again once enabled.
      assert.equal(await store.replaceDevice(device('d', 'disabled', 'e2'), 'e1'), true);
      assert.equal((await enqueue('disabled')).error, 'DeviceNotFound');
      assert.deepEqual(await store.writeDevices([{ kind: 'replace', device: device('d', 'enabled', 'e3') }]), [true]);
      assert.ok(accepted(await enqueue('enabled again')));
      assert.deepEqual(await store.writeDevices([{ kind: 'replace', device: device('d', 'disabled', 'e4') }]), [true]);
      assert.equal((await enqueue('disabled again')).error, 'DeviceNotFound');
    } finally {
      await store.close();
    }
  });

  test('a full queue across blocks of numbers: exactly the depth is taken (the bound counts the number of a new block)', async () => {
    const store = new SqliteStore({ path: join(dir, `seq-depth-blocks-${n++}.db`), synchronous: 'NORMAL' });
    const policy = { ...POLICY, maxQueueDepth: 2500 };
    try {
      await store.insertDevice(device('d'));
      await store.insertDevice(device('idle'));
      for (let i = 0; i < SEQ_BLOCKS_AFTER; i++)
        await store.commit([{ kind: 'lease', deviceId: 'idle', max: 1 }], T0, policy);
      let accepted = 0;
      for (let round = 0; round < 26; round++) {
        const ops: QueueOp[] = Array.from({ length: 100 }, (_, i) => ({
          kind: 'enqueue',
          message: message('d', `m${round}-${i}`),
        }));
        const { results } = await store.commit(ops, T0, policy);
        accepted += results.filter((r) => 'sequenceNumber' in r).length;
      }
      assert.equal(accepted, 2500, 'messages taken into a queue of depth 2,500 (two new blocks on the way)');
    } finally {
      await store.close();
    }
  });

  test('MQTT session writes made together keep their order; reads and device deletes see them', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    const writes = [
      store.putMqttSession({ deviceId: 'a', c2dQos: 1 }),
      store.putMqttSession({ deviceId: 'b', c2dQos: 0 }),
      store.deleteMqttSession('b'),
      store.putMqttSession({ deviceId: 'a', c2dQos: null }),
    ];
    // A read issued meanwhile sees every write issued before it.
    assert.deepEqual(await store.getMqttSession('a'), { deviceId: 'a', c2dQos: null });
    await Promise.all(writes);
    assert.equal(await store.getMqttSession('b'), undefined);
    // A put not yet committed does not bring a session back after its device is deleted.
    await store.insertDevice(device('c'));
    const put = store.putMqttSession({ deviceId: 'c', c2dQos: 1 });
    assert.equal(await store.deleteDevice('c'), true);
    await put;
    assert.equal(await store.getMqttSession('c'), undefined);
    // What waits is written before close.
    const last = store.putMqttSession({ deviceId: 'd', c2dQos: 1 });
    await store.close();
    await last;
  });

  test('WAL checkpoints run in a thread of their own; close leaves no WAL behind', async () => {
    const path = join(dir, `checkpoint-${n++}.db`);
    const store = new SqliteStore({ path });
    await store.insertDevice(device('d'));
    for (let i = 0; i < 50; i++) {
      await store.commit([{ kind: 'enqueue', message: message('d', `m${i}`) }], T0, { ...POLICY, maxQueueDepth: 100 });
    }
    // The main connection checkpoints only past a high threshold, far above these 50 commits; the
    // thread copies them into the database file within a few intervals. A copy of the database
    // file alone (no WAL) shows what was checkpointed. A copy taken while the thread is writing
    // pages into the file can be torn (some pages new, some old); SQLite then reports it corrupt,
    // which here only means "copy again". The real file is checked for corruption after close.
    const copy = join(dir, `checkpoint-copy-${n++}.db`);
    const inFile = () => {
      copyFileSync(path, copy);
      const db = new Database(copy);
      try {
        // Until the first checkpoint even the schema is only in the WAL.
        const tables = db.prepare("SELECT name FROM sqlite_master WHERE name = 'c2d_messages'").all();
        if (tables.length === 0) return 0;
        return (db.prepare('SELECT COUNT(*) AS n FROM c2d_messages').get() as { n: number }).n;
      } catch (err) {
        if (['SQLITE_CORRUPT', 'SQLITE_NOTADB'].includes((err as { code?: string }).code ?? '')) return -1;
        throw err;
      } finally {
        db.close();
        rmSync(`${copy}-wal`, { force: true });
        rmSync(`${copy}-shm`, { force: true });
      }
    };
    const deadline = Date.now() + 5000;
    while (inFile() < 50) {
      if (Date.now() > deadline) assert.fail(`the database file has ${inFile()} of 50 messages: no checkpoint ran`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await store.close();
    assert.equal(existsSync(`${path}-wal`), false);
    const check = new Database(path);
    assert.deepEqual(check.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    check.close();
    // Reopened, everything committed is there.
    const again = new SqliteStore({ path, checkpointThread: false });
    assert.equal(await again.queueDepth('d', T0), 50);
    await again.close();
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
