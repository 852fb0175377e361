/**
 * /ready and the store's commits (issue 23): /ready stayed 200 through PostgreSQL restarts and
 * pauses while the node could commit nothing. The watch says "unavailable" after a failed commit
 * and while a commit or probe is overdue, probes an idle node, and recovers by itself. Time is a
 * hand-moved number; the store calls are promises the test answers.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import { CommitWatch, PROBE_AFTER_MS, watchCommits } from '../src/store/commit-watch.js';
import type { CommitResult, QueueStore } from '../src/store/types.js';

interface Held {
  resolve(): void;
  reject(err: Error): void;
}

function setup(timeoutMs = 5000) {
  let t = 1_000;
  const probes: Held[] = [];
  const lines: Array<{ level: number; msg: string; reason?: string }> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    }),
  );
  const watch = new CommitWatch({
    timeoutMs,
    logger,
    now: () => t,
    ping: () => new Promise<void>((resolve, reject) => probes.push({ resolve, reject })),
  });
  return {
    watch,
    probes,
    lines,
    advance(ms: number) {
      t += ms;
    },
  };
}

/** A commit the test answers by hand. */
function heldCall(watch: CommitWatch): Held & { done: Promise<unknown> } {
  let held!: Held;
  const call = new Promise<void>((resolve, reject) => (held = { resolve, reject }));
  const done = watch.track(call).catch((err: unknown) => err);
  return { ...held, done };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('CommitWatch', () => {
  test('a failed commit makes the node unavailable until a commit succeeds', async () => {
    const s = setup();
    assert.equal(s.watch.unavailable(), undefined);
    const c = heldCall(s.watch);
    c.reject(new Error('Connection terminated unexpectedly'));
    assert.ok((await c.done) instanceof Error);
    assert.match(s.watch.unavailable() ?? '', /the last commit failed: Connection terminated unexpectedly/);
    const next = heldCall(s.watch);
    next.resolve();
    await next.done;
    assert.equal(s.watch.unavailable(), undefined);
    assert.deepEqual(
      s.lines.map((l) => l.msg),
      ['the store cannot commit: /ready answers 503', 'the store commits again: /ready answers 200'],
    );
  });

  test('a commit overdue past the timeout makes it unavailable; its late answer ends that', async () => {
    const s = setup(5000);
    const c = heldCall(s.watch);
    s.advance(5000);
    assert.equal(s.watch.unavailable(), undefined, 'not late yet at exactly the timeout');
    s.advance(1);
    assert.match(s.watch.unavailable() ?? '', /a commit has been waiting 5001 ms/);
    // Asked again and again while it waits: one warning, no probe beside the pending commit.
    s.advance(3000);
    assert.ok(s.watch.unavailable());
    assert.equal(s.probes.length, 0);
    assert.equal(s.lines.filter((l) => l.level === 40).length, 1);
    c.resolve();
    await c.done;
    assert.equal(s.watch.unavailable(), undefined);
  });

  test('a stuck commit does not count while others succeed (one bad connection of a pool)', async () => {
    const s = setup(5000);
    const stuck = heldCall(s.watch);
    s.advance(4000);
    const other = heldCall(s.watch);
    other.resolve();
    await other.done;
    s.advance(4000);
    assert.equal(s.watch.unavailable(), undefined, 'a commit succeeded 4 s ago');
    s.advance(2000);
    assert.ok(s.watch.unavailable(), 'nothing succeeded for 6 s and one has waited 10 s');
    stuck.resolve();
    await stuck.done;
  });

  test('an idle node is probed when asked; a probe that hangs past the timeout makes it unavailable', async () => {
    const s = setup(2000);
    assert.equal(s.watch.unavailable(), undefined);
    assert.equal(s.probes.length, 0, 'something succeeded (the start) less than a second ago');
    s.advance(PROBE_AFTER_MS);
    assert.equal(s.watch.unavailable(), undefined);
    await tick();
    assert.equal(s.probes.length, 1, 'idle for a second: probed');
    s.probes[0]!.resolve();
    await tick();
    // Answered: the next probe only after another idle second.
    s.advance(500);
    s.watch.unavailable();
    await tick();
    assert.equal(s.probes.length, 1);
    s.advance(500);
    s.watch.unavailable();
    await tick();
    assert.equal(s.probes.length, 2);
    // This one hangs (a paused database): one probe at a time, and 503 once it is overdue.
    s.advance(2000);
    assert.equal(s.watch.unavailable(), undefined);
    s.advance(1);
    assert.match(s.watch.unavailable() ?? '', /waiting 2001 ms/);
    await tick();
    assert.equal(s.probes.length, 2);
    s.probes[1]!.resolve();
    await tick();
    assert.equal(s.watch.unavailable(), undefined);
  });

  test('after a failure an idle node probes at once, and a probe that succeeds recovers it', async () => {
    const s = setup();
    const c = heldCall(s.watch);
    c.reject(new Error('ECONNREFUSED'));
    await c.done;
    assert.ok(s.watch.unavailable());
    await tick();
    assert.equal(s.probes.length, 1);
    s.probes[0]!.reject(new Error('ECONNREFUSED'));
    await tick();
    assert.ok(s.watch.unavailable(), 'the probe failed too');
    await tick();
    assert.equal(s.probes.length, 2);
    s.probes[1]!.resolve();
    await tick();
    assert.equal(s.watch.unavailable(), undefined);
  });

  test('watchCommits watches commit and passes every other call through', async () => {
    const s = setup(1000);
    let answer!: (r: CommitResult) => void;
    let calls = 0;
    const store: QueueStore = {
      commit: () => {
        calls++;
        return new Promise((resolve) => (answer = resolve));
      },
      nextDeadline: async () => 42,
      queueDepth: async (deviceId) => (deviceId === 'd' ? 7 : 0),
    };
    const watched = watchCommits(store, s.watch);
    assert.equal(await watched.queueDepth('d', 0), 7);
    const policy = {} as Parameters<QueueStore['commit']>[2];
    const pending = watched.commit([], 0, policy);
    assert.equal(calls, 1);
    s.advance(1001);
    assert.ok(s.watch.unavailable());
    answer({ results: [], wokenDevices: [], feedbackAvailable: false, earliestDeadline: null });
    await pending;
    assert.equal(s.watch.unavailable(), undefined);
  });
});
