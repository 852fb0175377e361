/**
 * The malloc_trim addon (issue 29, docs/memory.md): it is built and loads wherever glibc is, and
 * what a program frees inside glibc's heaps stays in its RSS until trim() gives the pages back.
 * The figures are taken in a child process of their own (node --expose-gc), so the test runner's
 * allocations do not blur them.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { loadNativeMemory, type MallocInfo } from '../src/index.js';

const MiB = 2 ** 20;
const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;

test('the addon loads wherever glibc is (npm built it at install)', () => {
  let reason = '';
  const memory = loadNativeMemory((why) => {
    reason = why;
  });
  if (!glibc) {
    assert.equal(memory, undefined);
    assert.match(reason, /glibc/);
    return;
  }
  assert.ok(memory, `not loaded on glibc ${glibc}: ${reason}`);
  const info = memory.info();
  for (const key of ['arena', 'hblkhd', 'uordblks', 'fordblks', 'keepcost'] as const) {
    assert.equal(typeof info[key], 'number', key);
  }
  assert.ok(info.uordblks > 0 && info.arena >= info.uordblks, JSON.stringify(info));
  assert.equal(typeof memory.trim(), 'boolean');
});

interface Reading {
  rss: number;
  info: MallocInfo;
}

// 40,000 Buffers of 2,000 bytes: each is one malloc of glibc's main heap (under its mmap
// threshold). Every 50th stays alive, so the freed space is in the middle of the heap, not at its
// top, which glibc would give back by itself.
const CHILD = `
const { loadNativeMemory } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
const memory = loadNativeMemory();
const read = () => ({ rss: process.memoryUsage.rss(), info: memory.info() });
let buffers = Array.from({ length: 40_000 }, () => Buffer.allocUnsafeSlow(2000).fill(1));
const pinned = buffers.filter((_, i) => i % 50 === 49);
const allocated = read();
buffers = undefined;
gc();
gc();
const freed = read();
const trimmed = memory.trim();
console.log(JSON.stringify({ allocated, freed, trimmed, after: read(), pinned: pinned.length }));
`;

test('freed native memory stays in the RSS until trim() gives its pages back', {
  skip: !glibc && 'no glibc',
}, async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', CHILD],
    { timeout: 60_000 },
  );
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
    allocated: Reading;
    freed: Reading;
    after: Reading;
    trimmed: boolean;
    pinned: number;
  };
  const show = (x: Reading) => `rss ${mib(x.rss)} free ${mib(x.info.fordblks)} in use ${mib(x.info.uordblks)} MiB`;
  const log = `allocated: ${show(r.allocated)}; freed: ${show(r.freed)}; trimmed: ${show(r.after)}`;
  assert.equal(r.pinned, 800);
  // About 78 MiB freed (39,200 x 2,000 bytes and glibc's chunk headers) went to glibc's free lists...
  assert.ok(r.freed.info.fordblks - r.allocated.info.fordblks > 60 * MiB, log);
  assert.ok(r.allocated.info.uordblks - r.freed.info.uordblks > 60 * MiB, log);
  // ...and stayed in the RSS (the heap's top is pinned, so glibc gave back nothing by itself)...
  assert.ok(r.allocated.rss - r.freed.rss < 20 * MiB, log);
  // ...until trim() gave back the pages, which stay counted as free chunks.
  assert.equal(r.trimmed, true);
  assert.ok(r.freed.rss - r.after.rss > 50 * MiB, log);
  assert.ok(r.after.info.fordblks > 60 * MiB, log);
});

const mib = (bytes: number) => (bytes / MiB).toFixed(1);
