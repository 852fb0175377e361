/** Engine over a file-backed SQLite store: acknowledged work and deadlines survive a reopen. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { eventually } from './deadline.js';
import { awaitOnce, harness, msg } from './engine-harness.js';
import { syncWalThrough } from './store-contract-kit.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-durable-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('durability', () => {
  test('acknowledged sends and completions are kept across a close and reopen', async () => {
    const path = join(dir, 'sends.db');
    const clock = new ManualClock();
    const a = await harness({ clock, store: new SqliteStore({ path }) });
    await a.addDevice('d');
    for (const id of ['m1', 'm2', 'm3']) await a.engine.send('d', { ...msg(id), messageId: id });
    const [m1] = await a.engine.receive('d');
    await a.engine.complete('d', m1!.lockToken);
    await a.close();

    const b = await harness({ clock, store: new SqliteStore({ path }) });
    const got = await b.engine.receive('d', 10);
    assert.deepEqual(
      got.map((m) => [m.messageId, m.sequenceNumber]),
      [
        ['m2', 2],
        ['m3', 3],
      ],
    );
    // Sequence numbers continue where they were.
    assert.equal((await b.engine.send('d', msg('m4'))).sequenceNumber, 4);
    await b.close();
  });

  test('committed work is visible to a second connection without a clean close (crash)', async () => {
    const path = join(dir, 'crash.db');
    const clock = new ManualClock();
    const a = await harness({ clock, store: new SqliteStore({ path }) });
    await a.addDevice('d');
    await a.engine.send('d', { ...msg('kept'), messageId: 'kept' });
    // No close: a second store opens the same file as a restarted process would.
    const b = new SqliteStore({ path });
    assert.equal(await b.queueDepth('d', clock.now()), 1);
    await b.close();
    await a.close();
  });

  test('lock and TTL deadlines survive a reopen and are handled by the new scheduler', async () => {
    const path = join(dir, 'deadlines.db');
    const clock = new ManualClock();
    const a = await harness({ clock, store: new SqliteStore({ path }), feedback: { batchDelayMs: 0 } });
    await a.addDevice('d');
    await a.engine.send('d', { ...msg('locked'), messageId: 'locked' });
    await a.engine.send('d', {
      ...msg('short'),
      messageId: 'short',
      ack: 'negative',
      expiryTimeUtc: clock.now() + 120_000,
    });
    const [locked] = await a.engine.receive('d');
    assert.equal(locked!.messageId, 'locked');
    await a.close();

    const b = await harness({ clock, store: new SqliteStore({ path }), feedback: { batchDelayMs: 0 } });
    await b.advance(60_000); // the lock taken before the restart expires
    const [again] = await b.engine.receive('d');
    assert.equal(again!.messageId, 'locked');
    assert.equal(again!.redelivered, true);
    await b.advance(60_000); // the TTL set before the restart
    const fb = await b.engine.receiveFeedback();
    assert.deepEqual(
      fb?.records.map((r) => [r.originalMessageId, r.statusCode]),
      [['short', 'Expired']],
    );
    await b.close();
  });

  test('deadlines that passed while the hub was down are handled at start', async () => {
    const path = join(dir, 'downtime.db');
    const clock = new ManualClock();
    const a = await harness({ clock, store: new SqliteStore({ path }), feedback: { batchDelayMs: 0 } });
    await a.addDevice('d');
    await a.engine.send('d', { ...msg('x'), messageId: 'x', ack: 'full', expiryTimeUtc: clock.now() + 60_000 });
    await a.close();
    clock.advance(3_600_000); // no engine running: nothing fires
    const b = await harness({ clock, store: new SqliteStore({ path }), feedback: { batchDelayMs: 0 } });
    // harness() waited for the engine to be idle after start(); the expiry has been handled.
    assert.equal(await b.store.queueDepth('d', clock.now()), 0);
    const fb = await b.engine.receiveFeedback();
    assert.equal(fb?.records[0]?.statusCode, 'Expired');
    await b.close();
  });

  test('a pending feedback batch deadline survives a reopen', async () => {
    const path = join(dir, 'feedback.db');
    const clock = new ManualClock();
    const a = await harness({ clock, store: new SqliteStore({ path }) });
    await a.addDevice('d');
    for (const id of ['first', 'second']) {
      await a.engine.send('d', { ...msg(id), messageId: id, ack: 'positive' });
      const [m] = await a.engine.receive('d');
      await a.engine.complete('d', m!.lockToken);
    }
    const first = await a.engine.receiveFeedback();
    assert.equal(first?.records[0]?.originalMessageId, 'first');
    await a.engine.completeFeedback(first!.lockToken);
    assert.equal(await a.engine.receiveFeedback(), null);
    await a.close();

    const b = await harness({ clock, store: new SqliteStore({ path }) });
    await b.advance(15_000);
    const second = await b.engine.receiveFeedback();
    assert.equal(second?.records[0]?.originalMessageId, 'second');
    await b.close();
  });

  test('a waiting device gets a message before the WAL sync; its send is accepted only after it', async () => {
    const path = join(dir, 'deliver-before-sync.db');
    const store = new SqliteStore({ path });
    const a = await harness({ store });
    await a.addDevice('d');
    // The WAL's fdatasync is held by the test, as a slow disk would hold it.
    const held: Array<() => void> = [];
    await syncWalThrough(store, path, (_fd, callback) => held.push(() => callback(null)));
    const waiting = awaitOnce(a.engine, 'd', 5).deliveries;
    let accepted = false;
    const sent = a.engine.send('d', { ...msg('m'), messageId: 'm' }).then((r) => {
      accepted = true;
      return r;
    });
    const got = await waiting;
    assert.deepEqual(
      got.map((m) => m.messageId),
      ['m'],
    );
    assert.equal(accepted, false, 'the send is not accepted while its commit is not on disk');
    assert.equal(held.length, 1);
    // Committed in the WAL: a process restarted now (kill -9 keeps the page cache) finds it leased.
    const other = new SqliteStore({ path, checkpointThread: false });
    assert.equal(await other.queueDepth('d', a.clock.now()), 1);
    await other.close();
    // The device completes before the send is accepted: the complete waits for a later sync.
    let completed = false;
    const complete = a.engine.complete('d', got[0]!.lockToken).then(() => {
      completed = true;
    });
    // Once the complete is committed to the WAL (another connection sees the queue empty), it is
    // still not answered: its sync waits behind the held one.
    const reader = new SqliteStore({ path, checkpointThread: false });
    await eventually(async () => (await reader.queueDepth('d', a.clock.now())) === 0, 'the complete in the WAL');
    await reader.close();
    assert.equal(completed, false);
    while (!accepted || !completed) {
      for (const finish of held.splice(0)) finish();
      await new Promise((r) => setImmediate(r));
    }
    assert.equal((await sent).sequenceNumber, 1);
    await complete;
    assert.equal(await a.engine.queueDepth('d'), 0);
    await a.close();
  });
});
