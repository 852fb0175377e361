/**
 * The store contract with two store instances on one database, as two hub nodes have: the rules
 * must hold in the database's transactions, not in one process's memory. Every adapter that can
 * open one database twice runs it (SQLite: two connections to one file; PostgreSQL: two pools).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { Delivery } from '@ferry/common';
import type { QueueOp, QueueOpResult, QueuePolicy, Store } from '../src/store/types.js';
import { device, message, POLICY, T0 } from './store-contract-kit.js';

const DEEP: QueuePolicy = { ...POLICY, maxQueueDepth: 40 };

export function runSharedStoreContract(name: string, openPair: () => Promise<[Store, Store]>): void {
  describe(`Store contract, two instances on one database: ${name}`, () => {
    let a: Store;
    let b: Store;
    beforeEach(async () => {
      [a, b] = await openPair();
      await a.insertDevice(device('d'));
    });
    afterEach(async () => {
      await Promise.all([a.close(), b.close()]);
    });

    /** Commits `groups` groups of `perGroup` copies of op, alternating between the stores, all at once. */
    async function race(op: (i: number) => QueueOp, groups: number, perGroup: number, now = T0) {
      const commits = Array.from({ length: groups }, (_, g) =>
        (g % 2 ? b : a).commit(
          Array.from({ length: perGroup }, (_, i) => op(g * perGroup + i)),
          now,
          DEEP,
        ),
      );
      return (await Promise.all(commits)).flatMap((c) => c.results);
    }

    function ok<T extends QueueOpResult>(r: T): Extract<T, { ok: true }> {
      if (!r.ok) assert.fail(`unexpected ${JSON.stringify(r)}`);
      return r as Extract<T, { ok: true }>;
    }

    test('concurrent enqueues to one device: exact sequence numbers, depth never over the limit', async () => {
      const results = await race((i) => ({ kind: 'enqueue', message: message('d', `m${i}`) }), 12, 5);
      const accepted = results.filter((r) => r.ok).map((r) => (r as { sequenceNumber: number }).sequenceNumber);
      const refused = results.filter((r) => !r.ok);
      assert.deepEqual(
        accepted.sort((x, y) => x - y),
        Array.from({ length: DEEP.maxQueueDepth }, (_, i) => i + 1),
      );
      assert.ok(refused.every((r) => !r.ok && r.error === 'DeviceMaximumQueueDepthExceeded'));
      assert.equal(refused.length, 60 - DEEP.maxQueueDepth);
      assert.equal(await b.queueDepth('d', T0), DEEP.maxQueueDepth);
    });

    test('concurrent leases from both instances: no message is leased twice', async () => {
      await a.commit(
        Array.from({ length: 30 }, (_, i) => ({ kind: 'enqueue', message: message('d', `m${i}`) }) as QueueOp),
        T0,
        DEEP,
      );
      const results = await race(() => ({ kind: 'lease', deviceId: 'd', max: 3 }), 8, 3);
      const leased = results.flatMap((r) => ok(r as QueueOpResult<'lease'>).deliveries as Delivery[]);
      assert.equal(leased.length, 30);
      assert.equal(new Set(leased.map((m) => m.sequenceNumber)).size, 30);
      assert.equal(new Set(leased.map((m) => m.lockToken)).size, 30);
    });

    test('a lock token taken on one instance settles on the other, once', async () => {
      await a.commit([{ kind: 'enqueue', message: message('d', 'x', { ack: 'positive' }) }], T0, DEEP);
      const [m] = ok(
        (await a.commit([{ kind: 'lease', deviceId: 'd', max: 1 }], T0, DEEP)).results[0] as QueueOpResult<'lease'>,
      ).deliveries;
      const settle: QueueOp = { kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' };
      const [r1, r2] = await Promise.all([b.commit([settle], T0, DEEP), a.commit([settle], T0, DEEP)]);
      const outcomes = [r1.results[0], r2.results[0]].map((r) =>
        r!.ok ? 'completed' : (r as { error: string }).error,
      );
      assert.deepEqual(outcomes.sort(), ['DeviceMessageLockLost', 'completed']);
      assert.equal(await a.queueDepth('d', T0), 0);
    });

    test('both instances run the scheduler at once: each due message is expired once, with one feedback record', async () => {
      const immediate = { ...DEEP, feedback: { ...DEEP.feedback, batchDelayMs: 0, batchMaxRecords: 100 } };
      await a.commit(
        Array.from(
          { length: 30 },
          (_, i) =>
            ({
              kind: 'enqueue',
              message: message('d', `m${i}`, { expiryTimeUtc: T0 + 10, ack: 'negative', messageId: `id${i}` }),
            }) as QueueOp,
        ),
        T0,
        immediate,
      );
      const due = T0 + 10;
      const runs = await Promise.all(
        [a, b, a, b].map((s) => s.commit([{ kind: 'expire', limit: 10 }], due, immediate)),
      );
      let expired = runs.reduce((n, r) => n + ok(r.results[0] as QueueOpResult<'expire'>).expired, 0);
      // Whatever the four runs left (they take 10 each at most) is for the next runs.
      for (let more = true; more; ) {
        const r = ok(
          (await b.commit([{ kind: 'expire', limit: 10 }], due, immediate)).results[0] as QueueOpResult<'expire'>,
        );
        expired += r.expired;
        more = r.more;
      }
      assert.equal(expired, 30);
      const records: string[] = [];
      for (const s of [a, b, a, b]) {
        const batch = ok(
          (await s.commit([{ kind: 'leaseFeedback' }], due, immediate)).results[0] as QueueOpResult<'leaseFeedback'>,
        ).batch;
        if (batch) records.push(...batch.records.map((x) => x.originalMessageId));
      }
      assert.equal(records.length, 30);
      assert.equal(new Set(records).size, 30);
    });
  });
}
