/**
 * Lock deadlines count from the commit (issue 23): a lease committed after a store stall longer
 * than the lock timeout handed out a message whose lock had already expired, so the same
 * connection got it twice (the lock expiry put it back and the connection's next lease took it
 * again). A store wrapper holds the commit while the manual clock passes the lock timeout; the
 * lease is then taken back and leased again with a lock that starts at the commit. Runs on SQLite
 * here and on PostgreSQL through engine-postgres.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Delivery } from '@ferry/common';
import type { Store } from '../src/store/types.js';
import { defaultStore, type Harness, harness, msg } from './engine-harness.js';

const LOCK_MS = 10_000;

/**
 * The store, with the next commit that holds a lease held until released: before it reaches the
 * store (a paused database: the lease's `now` was read before the stall) or after (a slow COMMIT).
 */
function stalling(store: Store) {
  let armed: 'before' | 'after' | undefined;
  let onHeld: () => void = () => undefined;
  let release: () => void = () => undefined;
  const commit: Store['commit'] = async (ops, now, policy) => {
    const hold = ops.some((op) => op.kind === 'lease') ? armed : undefined;
    if (hold) armed = undefined;
    const gate = hold && new Promise<void>((resolve) => (release = resolve));
    if (hold === 'before') {
      onHeld();
      await gate;
    }
    const result = await store.commit(ops, now, policy);
    if (hold === 'after') {
      onHeld();
      await gate;
    }
    return result;
  };
  const wrapped = new Proxy(store, { get: (t, p) => (p === 'commit' ? commit : Reflect.get(t, p, t)) });
  return {
    store: wrapped,
    /** Holds the next commit with a lease; resolves once it is held. */
    arm(where: 'before' | 'after'): Promise<void> {
      armed = where;
      return new Promise((resolve) => (onHeld = resolve));
    },
    release: () => release(),
  };
}

/** A connection's receiver: it wants one message at a time, again after each, and records them. */
function connection(h: Harness, deviceId: string) {
  const got: Delivery[] = [];
  const receiver = h.engine.openReceiver(deviceId, {
    onDeliveries(d) {
      got.push(...d);
      receiver.want(1);
    },
    onError(err) {
      throw err;
    },
  });
  receiver.want(1);
  return { got, close: () => receiver.close() };
}

describe('a lease committed after a stall longer than the lock timeout', () => {
  let h: Harness;
  afterEach(() => h.close());

  async function setup() {
    const s = stalling(await defaultStore());
    h = await harness({ store: s.store, c2d: { lockTimeoutMs: LOCK_MS } });
    await h.addDevice('d');
    return s;
  }

  test('a waiting connection gets the message once, locked from the commit on (store paused before the commit)', async () => {
    const s = await setup();
    const conn = connection(h, 'd');
    await h.engine.idle();
    // The send and the connection's direct lease go in one group, held before the store.
    const held = s.arm('before');
    const sent = h.engine.send('d', msg('m1'));
    await held;
    h.clock.advance(LOCK_MS + 5_000);
    const commitTime = h.clock.now();
    s.release();
    await sent;
    await h.engine.idle();
    assert.equal(conn.got.length, 1);
    assert.equal(conn.got[0]!.body.toString(), 'm1');
    assert.ok(
      conn.got[0]!.lockedUntil > commitTime,
      `locked until ${conn.got[0]!.lockedUntil}, committed at ${commitTime}`,
    );
    assert.equal(conn.got[0]!.deliveryCount, 0, 'taken back as a lock expiry: not counted');
    // Time goes on within the lock: the connection, wanting more, is not given it again.
    await h.advance(LOCK_MS - 1_000);
    assert.equal(conn.got.length, 1);
    await h.engine.complete('d', conn.got[0]!.lockToken);
    assert.equal(await h.engine.queueDepth('d'), 0);
    conn.close();
  });

  test('receive() answers with a lock that starts at the commit; the next receive gets nothing (slow COMMIT)', async () => {
    const s = await setup();
    await h.engine.send('d', msg('m1'));
    const held = s.arm('after');
    const receiving = h.engine.receive('d');
    await held;
    h.clock.advance(LOCK_MS + 1);
    const commitTime = h.clock.now();
    s.release();
    const [first, ...more] = await receiving;
    assert.equal(more.length, 0);
    assert.equal(first?.body.toString(), 'm1');
    assert.ok(first!.lockedUntil > commitTime, `locked until ${first!.lockedUntil}, committed at ${commitTime}`);
    await h.advance(1_000);
    assert.deepEqual(await h.engine.receive('d'), []);
    await h.engine.complete('d', first!.lockToken);
  });

  test('a commit that left more than half the lock hands its lease out as it is', async () => {
    const s = await setup();
    await h.engine.send('d', msg('m1'));
    const held = s.arm('before');
    const start = h.clock.now();
    const receiving = h.engine.receive('d');
    await held;
    h.clock.advance(LOCK_MS / 2 - 1);
    s.release();
    const [first] = await receiving;
    assert.equal(first!.lockedUntil, start + LOCK_MS, 'the lock of the stalled lease itself');
    await h.engine.complete('d', first!.lockToken);
  });
});
