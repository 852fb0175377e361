/** Engine: group commit, failure isolation, and the signals gateways subscribe to. */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { FerryError } from '@ferry/common';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { CommitResult, QueueOp, QueuePolicy, Store } from '../src/store/types.js';
import { type Harness, harness, msg } from './engine-harness.js';

/** A Store that records each commit and can hold it open (a commit "in flight") or fail it. */
class SpyStore extends SqliteStore {
  commits: number[] = [];
  gate: Promise<void> | undefined;
  failNext = false;

  constructor() {
    super({ path: ':memory:' });
  }

  override async commit(ops: readonly QueueOp[], now: number, policy: QueuePolicy): Promise<CommitResult> {
    this.commits.push(ops.length);
    if (this.gate) await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    return super.commit(ops, now, policy);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('group commit', () => {
  let h: Harness;
  let spy: SpyStore;
  afterEach(() => h.close());

  async function setup() {
    spy = new SpyStore();
    h = await harness({ store: spy as Store, c2d: { maxQueueDepth: 1000 } });
    await h.addDevice('d');
    spy.commits = [];
  }

  test('many concurrent sends are written in one transaction', async () => {
    await setup();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => h.engine.send('d', msg(`m${i}`))));
    assert.deepEqual(
      results.map((r) => r.sequenceNumber),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    assert.deepEqual(spy.commits, [200]);
    assert.equal(await h.engine.queueDepth('d'), 200);
  });

  test('operations arriving while a commit is in flight go together into the next one', async () => {
    await setup();
    const gate = deferred();
    spy.gate = gate.promise;
    let firstDone = false;
    const first = h.engine.send('d', msg('first')).then((r) => {
      firstDone = true;
      return r;
    });
    await new Promise((r) => setImmediate(r)); // the first commit is now in flight
    assert.deepEqual(spy.commits, [1]);
    const rest = Array.from({ length: 50 }, (_, i) => h.engine.send('d', msg(`m${i}`)));
    await new Promise((r) => setImmediate(r));
    assert.equal(firstDone, false, 'a send resolves only after its commit');
    assert.deepEqual(spy.commits, [1]);
    spy.gate = undefined;
    gate.resolve();
    await first;
    await Promise.all(rest);
    assert.deepEqual(spy.commits, [1, 50]);
  });

  test('mixed operations share a transaction', async () => {
    await setup();
    await h.engine.send('d', msg('a'));
    const [m] = await h.engine.receive('d');
    spy.commits = [];
    await Promise.all([h.engine.send('d', msg('b')), h.engine.complete('d', m!.lockToken), h.engine.receive('d')]);
    assert.deepEqual(spy.commits, [3]);
  });

  test('a failed transaction fails its group with ServerError and the engine keeps working', async () => {
    await setup();
    spy.failNext = true;
    const failed = await Promise.allSettled([h.engine.send('d', msg('a')), h.engine.send('d', msg('b'))]);
    for (const r of failed) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof FerryError && r.reason.errorName === 'ServerError');
    }
    assert.equal((await h.engine.send('d', msg('c'))).sequenceNumber, 1);
  });
});

describe('signals', () => {
  let h: Harness;
  afterEach(() => h.close());

  test('onAvailable fires on send, abandon, release and lock expiry, and stops after unsubscribe', async () => {
    h = await harness();
    await h.addDevice('d');
    await h.addDevice('other');
    let n = 0;
    const off = h.engine.onAvailable('d', () => n++);
    await h.engine.send('other', msg('x'));
    assert.equal(n, 0);
    await h.engine.send('d', msg('x'));
    assert.equal(n, 1);
    let [m] = await h.engine.receive('d');
    await h.engine.abandon('d', m!.lockToken);
    assert.equal(n, 2);
    [m] = await h.engine.receive('d');
    await h.engine.release('d', [m!.lockToken]);
    assert.equal(n, 3);
    await h.engine.receive('d');
    await h.advance(60_000);
    assert.equal(n, 4);
    off();
    await h.engine.send('d', msg('y'));
    assert.equal(n, 4);
  });

  test('a throwing listener does not break the engine or other listeners', async () => {
    h = await harness();
    await h.addDevice('d');
    let n = 0;
    h.engine.onAvailable('d', () => {
      throw new Error('listener bug');
    });
    h.engine.onAvailable('d', () => n++);
    await h.engine.send('d', msg('x'));
    assert.equal(n, 1);
  });

  test('onFeedbackAvailable fires when a batch is made and when a lock expires', async () => {
    h = await harness({ feedback: { batchDelayMs: 0 } });
    await h.addDevice('d');
    let n = 0;
    const off = h.engine.onFeedbackAvailable(() => n++);
    await h.engine.send('d', { ...msg('x'), ack: 'positive' });
    assert.equal(n, 0);
    const [m] = await h.engine.receive('d');
    await h.engine.complete('d', m!.lockToken);
    assert.equal(n, 1);
    await h.engine.receiveFeedback();
    await h.advance(60_000);
    assert.equal(n, 2);
    off();
  });
});
