/** WalSync: writes answered once the WAL is on disk, the sync off the event loop. */
import assert from 'node:assert/strict';
import { fstatSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../src/clock.js';
import { BUSY_OPS_PER_MS, RATE_WINDOW_MS, type SyncFile, WalSync } from '../src/store/sqlite/wal-sync.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-wal-sync-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A sync that waits until the test lets it finish; records the inode it was asked to sync. */
function heldSync() {
  const calls: Array<{ ino: number; finish: (err?: NodeJS.ErrnoException) => void }> = [];
  const sync: SyncFile = (fd, callback) => {
    calls.push({ ino: fstatSync(fd).ino, finish: (err) => callback(err ?? null) });
  };
  return { calls, sync };
}

function walFile(): string {
  const path = join(dir, `db-${n++}-wal`);
  writeFileSync(path, 'frames');
  return path;
}

const turn = () => new Promise((r) => setImmediate(r));

describe('WalSync', () => {
  test('answers a write only once a sync that began after it has finished', async () => {
    const path = walFile();
    const { calls, sync } = heldSync();
    const ws = new WalSync(path, sync);
    const answered: string[] = [];
    ws.after(() => answered.push('a'));
    assert.equal(calls.length, 1, 'the first write starts a sync at once');
    // Written while that sync runs: it may not cover them, so they wait for the next one.
    ws.after(() => answered.push('b'));
    ws.after(() => answered.push('c'));
    await turn();
    assert.deepEqual(answered, []);
    calls[0]!.finish();
    assert.deepEqual(answered, ['a']);
    assert.equal(calls.length, 2, 'b and c share one sync');
    calls[1]!.finish();
    assert.deepEqual(answered, ['a', 'b', 'c']);
    assert.equal(calls[0]!.ino, statSync(path).ino);
    await ws.close();
  });

  test('while busy a sync begins no sooner than the gap after the last one; a light store syncs at once', async () => {
    const { calls, sync } = heldSync();
    const clock = new ManualClock();
    const gapMs = 60;
    const ws = new WalSync(walFile(), sync, gapMs, clock);
    const answered: string[] = [];
    // A burst: far more than BUSY_OPS_PER_MS operations per ms over the rate window.
    ws.after(() => answered.push('burst'), BUSY_OPS_PER_MS * RATE_WINDOW_MS * 1000);
    assert.equal(calls.length, 1, 'nothing was busy before: the sync begins at once');
    const began = clock.now();
    calls[0]!.finish();
    clock.advance(RATE_WINDOW_MS + 2);
    // The window that ended was busy: these writes wait for the gap, and share one sync.
    ws.after(() => answered.push('b'));
    ws.after(() => answered.push('c'));
    clock.advance(gapMs - (RATE_WINDOW_MS + 2) - 1);
    assert.equal(calls.length, 1, 'no sync within the gap (1 ms before it ends)');
    clock.advance(1);
    assert.equal(calls.length, 2, 'the sync begins as the gap ends');
    assert.equal(clock.now() - began, gapMs);
    assert.deepEqual(answered, ['burst']);
    calls[1]!.finish();
    assert.deepEqual(answered, ['burst', 'b', 'c']);
    // Two operations over a window: light again, so the next sync begins at once.
    clock.advance(RATE_WINDOW_MS + 2);
    ws.after(() => answered.push('d'));
    assert.equal(calls.length, 3);
    calls[2]!.finish();
    assert.deepEqual(answered, ['burst', 'b', 'c', 'd']);
    await ws.close();
  });

  test('close begins a sync waiting for the gap at once, and answers its writes', async () => {
    const { calls, sync } = heldSync();
    const clock = new ManualClock();
    const ws = new WalSync(walFile(), sync, 60_000, clock);
    const burst = ws.durable(BUSY_OPS_PER_MS * RATE_WINDOW_MS * 1000);
    calls[0]!.finish();
    await burst;
    clock.advance(RATE_WINDOW_MS + 2);
    const waiting = ws.durable();
    clock.advance(59_000);
    assert.equal(calls.length, 1, 'waiting for the gap');
    const closing = ws.close();
    assert.equal(calls.length, 2, 'close does not wait out the gap');
    calls[1]!.finish();
    await waiting;
    await closing;
  });

  test('a failed sync fails its writes and every later one, with what to do', async () => {
    const path = walFile();
    const { calls, sync } = heldSync();
    const ws = new WalSync(path, sync);
    const first = ws.durable();
    const queued = ws.durable();
    calls[0]!.finish(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await assert.rejects(first, /syncing the WAL failed \(EIO.*restart the hub/);
    // After EIO the kernel may report the next sync clean: nothing is answered as durable again.
    await assert.rejects(queued, /syncing the WAL failed/);
    await assert.rejects(ws.durable(), /syncing the WAL failed/);
    assert.equal(calls.length, 1, 'no sync is tried after a failure');
    await ws.close();
  });

  test('keeps syncing the file it opened, the one SQLite writes to, even if the path is replaced', async () => {
    const path = walFile();
    const { calls, sync } = heldSync();
    const ws = new WalSync(path, sync);
    const synced = async () => {
      const p = ws.durable();
      calls.at(-1)!.finish();
      await p;
      return calls.at(-1)!.ino;
    };
    const first = await synced();
    assert.equal(first, statSync(path).ino);
    const replacement = `${path}.new`;
    writeFileSync(replacement, 'other frames');
    renameSync(replacement, path);
    assert.equal(await synced(), first);
    await ws.close();
  });

  test('a missing WAL fails the write instead of answering it', async () => {
    const ws = new WalSync(join(dir, 'absent-wal'));
    await assert.rejects(ws.durable(), /ENOENT/);
    await ws.close();
  });

  test('close waits for the sync in flight; later writes are refused', async () => {
    const path = walFile();
    const { calls, sync } = heldSync();
    const ws = new WalSync(path, sync);
    const write = ws.durable();
    let closed = false;
    const closing = ws.close().then(() => {
      closed = true;
    });
    await turn();
    assert.equal(closed, false);
    calls[0]!.finish();
    await write;
    await closing;
    await assert.rejects(ws.durable(), /closed/);
  });

  test('the real fdatasync answers', async () => {
    const ws = new WalSync(walFile());
    await ws.durable();
    ws.syncNow();
    await ws.close();
  });
});
