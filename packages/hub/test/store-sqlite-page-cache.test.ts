/**
 * store.pageCacheMb bounds what SQLite's page cache keeps (issue 29): better-sqlite3's SQLite
 * keeps up to 16 MiB per connection, which large messages fill and the RSS then keeps. The native
 * memory glibc has in use is read through the hub's native-memory addon (mallinfo2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadNativeHeap } from '../src/observability/native-heap.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { QueueOp } from '../src/store/types.js';
import { device, message, POLICY, T0 } from './store-contract-kit.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-page-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let runs = 0;

/**
 * glibc's bytes in use after a store with this cache took 300 messages of 60 KB (one Buffer, so
 * the test itself holds 60 KB); `release`: then emptied its cache (the idle release's call).
 */
async function inUseGrowth(pageCacheMb: number, release = false): Promise<number> {
  const native = await loadNativeHeap((why) => assert.fail(`the test needs the native-memory addon: ${why}`));
  // No checkpoint thread: its isolate, starting at its own time, would count in the figure.
  const store = new SqliteStore({
    path: join(dir, `cache-${pageCacheMb}-${runs++}.db`),
    pageCacheMb,
    checkpointThread: false,
  });
  try {
    const devices = Array.from({ length: 60 }, (_, i) => `d${i}`);
    for (const d of devices) await store.insertDevice(device(d));
    const before = native!.info().uordblks;
    const body = Buffer.alloc(60_000, 'x');
    for (let round = 0; round < POLICY.maxQueueDepth; round++) {
      const ops: QueueOp[] = devices.map((d) => ({ kind: 'enqueue', message: { ...message(d, ''), body } }));
      await store.commit(ops, T0, POLICY);
    }
    if (release) store.releaseMemory();
    return native!.info().uordblks - before;
  } finally {
    await store.close();
  }
}

test('SQLite page cache: store.pageCacheMb caps what the cache keeps of 18 MB of messages', async () => {
  await inUseGrowth(1); // the first store's code paths and statements, not counted
  const small = await inUseGrowth(1);
  const large = await inUseGrowth(16);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  assert.ok(small < 4 * 2 ** 20, `with 1 MiB the cache kept ${mib(small)}`);
  assert.ok(large > 10 * 2 ** 20, `with 16 MiB the cache kept ${mib(large)} (it should fill)`);
});

test("releaseMemory empties the page cache: a full 16 MiB cache's memory goes back to glibc", async () => {
  await inUseGrowth(16);
  const kept = await inUseGrowth(16);
  const released = await inUseGrowth(16, true);
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  assert.ok(kept > 10 * 2 ** 20, `the cache kept only ${mib(kept)} (it should fill)`);
  assert.ok(released < 4 * 2 ** 20, `after releaseMemory it still held ${mib(released)}`);
});

test('releaseMemory on a closed store does nothing', async () => {
  const store = new SqliteStore({ path: ':memory:' });
  await store.close();
  store.releaseMemory();
});

test('store.pageCacheMb must be a whole number of MiB', () => {
  for (const bad of [0, 1.5, -4])
    assert.throws(() => new SqliteStore({ path: ':memory:', pageCacheMb: bad }), /pageCacheMb/);
});
