/** Engine: direct delivery (openReceiver) leases in the same transaction as the enqueue. */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { CommitResult, QueueOp, QueuePolicy } from '../src/store/types.js';
import { awaitOnce, type Harness, harness, msg } from './engine-harness.js';

/** Records the kinds of ops of each commit. */
class KindsStore extends SqliteStore {
  commits: string[][] = [];

  constructor() {
    super({ path: ':memory:' });
  }

  override async commit(ops: readonly QueueOp[], now: number, policy: QueuePolicy): Promise<CommitResult> {
    this.commits.push(ops.map((o) => o.kind));
    return super.commit(ops, now, policy);
  }
}

describe('direct delivery', () => {
  let h: Harness;
  let store: KindsStore;
  afterEach(async () => {
    await h.close();
  });

  async function setUp(): Promise<void> {
    store = new KindsStore();
    h = await harness({ store });
    await h.addDevice('d');
    await h.addDevice('other');
  }

  test('a waiting receiver gets the message leased in the enqueue’s own transaction', async () => {
    await setUp();
    const waiting = awaitOnce(h.engine, 'd', 5).deliveries;
    let signals = 0;
    h.engine.onAvailable('d', () => signals++);
    store.commits = [];
    const sent = await h.engine.send('d', { ...msg('hello'), messageId: 'm1' });
    const got = await waiting;
    assert.deepEqual(
      got.map((m) => [m.messageId, m.sequenceNumber, m.body.toString()]),
      [['m1', sent.sequenceNumber, 'hello']],
    );
    assert.deepEqual(store.commits, [['enqueue', 'lease']]);
    // The lease came back short, so the queue is empty: nobody needs a signal.
    assert.equal(signals, 0);
    await h.engine.complete('d', got[0]!.lockToken);
    assert.equal(await h.engine.queueDepth('d'), 0);
  });

  test('a send to another device leaves the receiver waiting; several sends in one group come together', async () => {
    await setUp();
    const waiting = awaitOnce(h.engine, 'd', 5).deliveries;
    await h.engine.send('other', msg('x'));
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    await h.engine.idle();
    assert.equal(settled, false);
    await Promise.all(['a', 'b', 'c'].map((t) => h.engine.send('d', msg(t))));
    assert.deepEqual(
      (await waiting).map((m) => m.body.toString()),
      ['a', 'b', 'c'],
    );
  });

  test('cancel resolves with nothing, and a later send is not leased for it', async () => {
    await setUp();
    const waiting = awaitOnce(h.engine, 'd', 5);
    waiting.cancel();
    assert.deepEqual(await waiting.deliveries, []);
    store.commits = [];
    await h.engine.send('d', msg('x'));
    assert.deepEqual(store.commits, [['enqueue']]);
    assert.equal((await h.engine.receive('d', 5)).length, 1);
  });

  test('an abandoned message wakes the waiting receiver (next transaction)', async () => {
    await setUp();
    await h.engine.send('d', msg('x'));
    const [m] = await h.engine.receive('d', 1);
    const waiting = awaitOnce(h.engine, 'd', 1).deliveries;
    await h.engine.abandon('d', m!.lockToken);
    const [again] = await waiting;
    assert.equal(again?.sequenceNumber, m!.sequenceNumber);
    assert.equal(again?.deliveryCount, 1);
  });

  test('max is honoured; a receiver that waits again gets the rest', async () => {
    await setUp();
    const first = awaitOnce(h.engine, 'd', 2).deliveries;
    await Promise.all(['a', 'b', 'c'].map((t) => h.engine.send('d', msg(t))));
    assert.deepEqual(
      (await first).map((m) => m.body.toString()),
      ['a', 'b'],
    );
    assert.deepEqual(
      (await h.engine.receive('d', 5)).map((m) => m.body.toString()),
      ['c'],
    );
  });

  test('two receivers of one device: each gets its own lease; one cancelled leaves the other waiting', async () => {
    await setUp();
    const first = awaitOnce(h.engine, 'd', 1).deliveries;
    const second = awaitOnce(h.engine, 'd', 1);
    const third = awaitOnce(h.engine, 'd', 1).deliveries;
    second.cancel();
    assert.deepEqual(await second.deliveries, []);
    await Promise.all(['a', 'b'].map((t) => h.engine.send('d', msg(t))));
    const got = [...(await first), ...(await third)].map((m) => m.body.toString()).sort();
    assert.deepEqual(got, ['a', 'b']);
    assert.equal(await h.engine.queueDepth('d'), 2, 'both leased, none completed');
  });

  test('a receiver that wants more than a lease may take gets at most 100 at a time', async () => {
    store = new KindsStore();
    h = await harness({ store, c2d: { maxQueueDepth: 200 } });
    await h.addDevice('d');
    await h.engine.sendMany(Array.from({ length: 150 }, (_, i) => ({ deviceId: 'd', message: msg(`m${i}`) })));
    const [m] = await h.engine.receive('d', 1);
    const waiting = awaitOnce(h.engine, 'd', 1_000_000).deliveries;
    // The abandon wakes the receiver; its lease is capped as receive() caps it.
    await h.engine.abandon('d', m!.lockToken);
    assert.equal((await waiting).length, 100);
  });

  test('a registered receiver waits again and again: one enqueue + lease transaction per message, nothing more', async () => {
    await setUp();
    const batches: string[][] = [];
    let next: (() => void) | undefined;
    const receiver = h.engine.openReceiver('d', {
      onDeliveries: (got) => {
        batches.push(got.map((m) => m.body.toString()));
        // Wait again at once, as an MQTT connection does after publishing.
        receiver.want(5);
        next?.();
      },
      onError: (err) => assert.fail(err),
    });
    receiver.want(5);
    store.commits = [];
    for (const text of ['a', 'b', 'c']) {
      const arrived = new Promise<void>((resolve) => (next = resolve));
      await h.engine.send('d', msg(text));
      await arrived;
    }
    await h.engine.idle();
    assert.deepEqual(batches, [['a'], ['b'], ['c']]);
    // No lease of its own for a receiver that re-parked while its commit was being answered.
    assert.deepEqual(store.commits, [
      ['enqueue', 'lease'],
      ['enqueue', 'lease'],
      ['enqueue', 'lease'],
    ]);
    // Paused, it takes nothing; wanting again, a woken device's message reaches it.
    assert.equal(receiver.pause(), false);
    await h.engine.send('d', msg('d'));
    assert.deepEqual(batches.length, 3);
    const arrived = new Promise<void>((resolve) => (next = resolve));
    receiver.want(5);
    const [held] = await h.engine.receive('d', 1);
    await h.engine.abandon('d', held!.lockToken);
    await arrived;
    assert.deepEqual(batches.at(-1), ['d']);
    receiver.close();
  });

  test('stop resolves waiting receivers with nothing', async () => {
    await setUp();
    const waiting = awaitOnce(h.engine, 'd', 1);
    await h.engine.stop();
    assert.deepEqual(await waiting.deliveries, []);
  });
});
