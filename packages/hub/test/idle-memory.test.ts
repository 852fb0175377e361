/**
 * IdleMemoryRelease (issue 29, memory): one full collection when the process went idle with a
 * heap grown since the last one; none while busy, none without growth, none twice for the same growth.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { IdleMemoryRelease } from '../src/observability/idle-memory.js';

const MiB = 2 ** 20;
const logger = pino({ level: 'silent' });

function fake() {
  const state = { cpu: 0, heap: 20 * MiB, collected: 0, live: 22 * MiB };
  const release = new IdleMemoryRelease({
    logger,
    intervalMs: 3_600_000,
    minGrowthBytes: 8 * MiB,
    idleCpuShare: 0.05,
    cpuMicros: () => state.cpu,
    heapSize: () => state.heap,
    collect: () => {
      state.collected++;
      state.heap = state.live;
    },
  });
  return { state, release };
}

/** A release past its first idle look (the start-up collection), its count back at 0. */
function started() {
  const { state, release } = fake();
  release.check();
  assert.equal(state.collected, 1, 'no start-up collection');
  state.collected = 0;
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
