/**
 * IdleMemoryRelease (issue 29, memory): one full collection when the process went idle with a
 * heap grown since the last one; none while busy, none without growth, none twice for the same growth.
 * With glibc's malloc_trim (the native-memory addon): a trim after each collection, and one on its
 * own when idle after work with much free in glibc's heaps; each in the debug log with the RSS.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { IdleMemoryRelease } from '../src/observability/idle-memory.js';
import { loadNativeHeap, type NativeHeapInfo } from '../src/observability/native-heap.js';

const MiB = 2 ** 20;
const logger = pino({ level: 'silent' });

/** A debug logger whose lines the test reads. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

interface FakeOptions {
  native?: boolean;
  log?: pino.Logger;
  releaseCaches?: () => void;
}

function fake(opts: FakeOptions = {}) {
  const state = { cpu: 0, heap: 20 * MiB, collected: 0, live: 22 * MiB, free: 0, trimmed: 0, rss: 150 * MiB };
  const info = (): NativeHeapInfo => ({
    arena: 60 * MiB,
    hblkhd: 0,
    uordblks: 30 * MiB,
    fordblks: state.free,
    keepcost: 0,
  });
  const release = new IdleMemoryRelease({
    logger: opts.log ?? logger,
    intervalMs: 3_600_000,
    minGrowthBytes: 8 * MiB,
    minNativeFreeBytes: 8 * MiB,
    idleCpuShare: 0.05,
    cpuMicros: () => state.cpu,
    heapSize: () => state.heap,
    rss: () => state.rss,
    collect: () => {
      state.collected++;
      state.heap = state.live;
      state.rss -= 20 * MiB;
    },
    ...(opts.releaseCaches ? { releaseCaches: opts.releaseCaches } : {}),
    ...(opts.native
      ? {
          native: {
            info,
            trim: () => {
              state.trimmed++;
              state.rss -= 30 * MiB;
              return true;
            },
          },
        }
      : {}),
  });
  return { state, release };
}

/** A release past its first idle look (the start-up collection), its counts back at 0. */
function started(opts: FakeOptions = {}) {
  const { state, release } = fake(opts);
  release.check();
  assert.equal(state.collected, 1, 'no start-up collection');
  state.collected = 0;
  state.trimmed = 0;
  return { state, release };
}

test('the first idle look after start collects once, whatever the heap', (t) => {
  const { state, release } = fake();
  t.after(() => release.stop());
  state.cpu += 1e9;
  release.check();
  assert.equal(state.collected, 0, 'collected while busy');
  release.check();
  assert.equal(state.collected, 1);
  release.check();
  assert.equal(state.collected, 1);
});

test('a busy process is left alone, however much its heap grew', (t) => {
  const { state, release } = started();
  t.after(() => release.stop());
  state.heap = 60 * MiB;
  // A whole core busy since the last look.
  state.cpu += 1e9;
  release.check();
  assert.equal(state.collected, 0);
});

test('idle with a grown heap: one collection; idle again with no new growth: none', (t) => {
  const { state, release } = started();
  t.after(() => release.stop());
  state.heap = 50 * MiB;
  release.check();
  assert.equal(state.collected, 1);
  assert.equal(release.collections, 2, 'the start-up collection and this one');
  release.check();
  release.check();
  assert.equal(state.collected, 1, 'collected again with nothing new on the heap');
  state.heap = 22 * MiB + 9 * MiB;
  release.check();
  assert.equal(state.collected, 2, 'not collected after 9 MiB more');
});

test('on a large heap, growth under a quarter of it: no collection', (t) => {
  const { state, release } = started();
  t.after(() => release.stop());
  state.live = 200 * MiB;
  state.heap = 230 * MiB;
  release.check();
  assert.equal(state.collected, 1);
  state.collected = 0;
  state.heap = 240 * MiB;
  release.check();
  assert.equal(state.collected, 0, 'collected after 40 MiB on a 200 MiB heap');
  state.heap = 251 * MiB;
  release.check();
  assert.equal(state.collected, 1);
});

test('a collection in the middle of a long load settles the heap high: after more work, idle above its floor, one more', (t) => {
  const { state, release } = started();
  t.after(() => release.stop());
  // A lull mid-load with much alive (thousands of connections open): collected, settled at 60 MiB.
  state.live = 60 * MiB;
  state.heap = 70 * MiB;
  release.check();
  assert.equal(state.collected, 1);
  // More load; it ends, the connections close: 42 MiB of garbage, the heap no larger than it settled.
  state.cpu += 1e9;
  release.check();
  state.live = 22 * MiB;
  state.heap = 64 * MiB;
  release.check();
  assert.equal(state.collected, 2, 'the garbage of the load kept: the heap had not grown since the lull');
  assert.equal(state.heap, 22 * MiB);
  release.check();
  release.check();
  assert.equal(state.collected, 2, 'collected again without work');
});

test('a live heap that stays large above its floor: collected once per stretch of work, not at every idle look', (t) => {
  const { state, release } = started();
  t.after(() => release.stop());
  state.live = 60 * MiB;
  state.heap = 61 * MiB;
  release.check();
  assert.equal(state.collected, 1);
  release.check();
  release.check();
  assert.equal(state.collected, 1);
  state.cpu += 1e9;
  release.check();
  release.check();
  release.check();
  assert.equal(state.collected, 2);
});

test('idle with less growth than the threshold: no collection', (t) => {
  const { state, release } = started();
  t.after(() => release.stop());
  state.heap = 29 * MiB;
  release.check();
  assert.equal(state.collected, 0);
});

test("V8's full collection runs without --expose-gc, and leaves gc exposed nowhere", (t) => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'run this test without --expose-gc');
  const release = new IdleMemoryRelease({ logger, minGrowthBytes: 0, idleCpuShare: Number.POSITIVE_INFINITY });
  t.after(() => release.stop());
  let garbage: unknown[] | undefined = Array.from({ length: 100_000 }, (_, i) => ({ i }));
  garbage = undefined;
  release.check();
  assert.equal(garbage, undefined);
  assert.equal(release.collections, 1);
  assert.equal(runInNewContext('typeof gc'), 'undefined');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
});

test('with malloc_trim: each collection is followed by a trim, and the debug log has the RSS before and after', (t) => {
  const { log, lines } = capture();
  const { state, release } = started({ native: true, log });
  t.after(() => release.stop());
  state.heap = 50 * MiB;
  state.rss = 180 * MiB;
  release.check();
  assert.equal(state.collected, 1);
  assert.equal(state.trimmed, 1);
  const line = lines.at(-1)!;
  assert.equal(line.msg, 'idle: heap collected and given back');
  assert.equal(line.trimmed, true);
  assert.equal(line.rssBeforeMiB, 180);
  assert.equal(line.rssAfterMiB, 130, 'the RSS read after the collection and the trim');
  assert.equal(line.heapBeforeMiB, 50);
  assert.equal(line.heapAfterMiB, 22);
});

test('without malloc_trim, the collection is logged without a trim', (t) => {
  const { log, lines } = capture();
  const { state, release } = started({ log });
  t.after(() => release.stop());
  state.heap = 50 * MiB;
  release.check();
  assert.equal(release.trims, 0);
  const line = lines.at(-1)!;
  assert.equal(line.msg, 'idle: heap collected and given back');
  assert.equal(line.trimmed, undefined);
  assert.equal(typeof line.rssAfterMiB, 'number');
});

test('heap not grown, glibc holding much free after work: one trim alone, then none until more work', (t) => {
  const { log, lines } = capture();
  const { state, release } = started({ native: true, log });
  t.after(() => release.stop());
  // A burst V8 collected by itself: the heap did not grow, glibc kept what the burst freed.
  state.cpu += 1e9;
  state.free = 40 * MiB;
  release.check();
  assert.equal(state.trimmed, 0, 'trimmed while busy');
  release.check();
  assert.equal(state.collected, 0);
  assert.equal(state.trimmed, 1);
  const line = lines.at(-1)!;
  assert.equal(line.msg, 'idle: native memory given back');
  assert.equal(line.nativeFreeMiB, 40);
  assert.equal((line.rssBeforeMiB as number) - (line.rssAfterMiB as number), 30);
  // The pages given back stay counted as free: no trim on every idle look for them.
  release.check();
  release.check();
  assert.equal(state.trimmed, 1, 'trimmed again with no work since');
  state.cpu += 1e9;
  release.check();
  release.check();
  assert.equal(state.trimmed, 2, 'not trimmed after more work');
});

test('the caches are emptied right before each trim; one that throws is logged and the trim still runs', (t) => {
  const { log, lines } = capture();
  const order: string[] = [];
  let fail = false;
  // The fake's trims, read when the caches are emptied (the state is not there yet at start-up).
  let trimsSoFar = () => 0;
  const { state, release } = started({
    native: true,
    log,
    releaseCaches: () => {
      order.push(`caches before trim ${trimsSoFar() + 1}`);
      if (fail) throw new Error('database is closed');
    },
  });
  trimsSoFar = () => state.trimmed;
  t.after(() => release.stop());
  assert.deepEqual(order, ['caches before trim 1'], 'the start-up collection trims, caches first');
  order.length = 0;
  state.heap = 50 * MiB;
  release.check();
  state.cpu += 1e9;
  state.free = 40 * MiB;
  release.check();
  release.check();
  assert.equal(state.trimmed, 2);
  assert.deepEqual(order, ['caches before trim 1', 'caches before trim 2']);
  fail = true;
  state.cpu += 2e9;
  release.check();
  release.check();
  assert.equal(state.trimmed, 3, 'the trim ran after the failing cache');
  assert.ok(lines.some((l) => l.msg === 'idle: emptying the caches failed; they keep their memory' && l.level === 40));
});

test('without malloc_trim the caches are left alone (their memory would stay with glibc)', (t) => {
  let emptied = 0;
  const { state, release } = started({ releaseCaches: () => emptied++ });
  t.after(() => release.stop());
  state.heap = 50 * MiB;
  release.check();
  assert.equal(state.collected, 1);
  assert.equal(emptied, 0);
});

test('after work, with little free in glibc: no trim', (t) => {
  const { state, release } = started({ native: true });
  t.after(() => release.stop());
  state.cpu += 1e9;
  state.free = 7 * MiB;
  release.check();
  release.check();
  assert.equal(state.trimmed, 0);
  // What is freed later, while idle, is trimmed once it is worth it.
  state.free = 9 * MiB;
  release.check();
  assert.equal(state.trimmed, 1);
});

const native = await loadNativeHeap(() => {});
test("the hub's idle release trims with glibc's malloc_trim", { skip: !native && 'no glibc' }, (t) => {
  const { log, lines } = capture();
  const release = new IdleMemoryRelease({
    logger: log,
    native: native!,
    minGrowthBytes: 0,
    idleCpuShare: Number.POSITIVE_INFINITY,
  });
  t.after(() => release.stop());
  release.check();
  assert.equal(release.collections, 1);
  assert.equal(release.trims, 1);
  const line = lines.find((l) => l.msg === 'idle: heap collected and given back')!;
  assert.equal(typeof line.trimmed, 'boolean');
  assert.equal(typeof line.trimMs, 'number');
  assert.ok((line.rssAfterMiB as number) > 0 && (line.rssBeforeMiB as number) > 0, JSON.stringify(line));
});
