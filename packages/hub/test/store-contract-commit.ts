/**
 * The commit part of the store contract (see store-contract.ts): what one group of ops may rely
 * on. Ops see the effects of the ops before them (the engine's direct delivery puts a lease right
 * after an enqueue); a failing op leaves the others' effects whole; each commit reports a lower
 * bound of the deadlines it created, so the engine never re-reads the next deadline per commit.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { Delivery } from '@ferry/common';
import type { QueueOp } from '../src/store/types.js';
import { type ContractKit, device, message, POLICY, T0 } from './store-contract-kit.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function commitContract(kit: ContractKit): void {
  describe('one commit, many ops', () => {
    beforeEach(async () => {
      await kit.store.insertDevice(device('d'));
      await kit.store.insertDevice(device('e'));
    });

    const deliveriesOf = (r: unknown): Delivery[] => (r as { deliveries: Delivery[] }).deliveries;

    test('a lease after an enqueue in the same commit gets the new message (direct delivery)', async () => {
      const r = await kit.store.commit(
        [
          { kind: 'enqueue', message: message('d', 'first') },
          { kind: 'lease', deviceId: 'd', max: 5 },
          { kind: 'enqueue', message: message('d', 'second') },
          { kind: 'enqueue', message: message('e', 'other') },
          { kind: 'lease', deviceId: 'e', max: 1 },
        ],
        T0,
        POLICY,
      );
      assert.deepEqual(
        deliveriesOf(r.results[1]).map((m) => [m.body.toString(), m.sequenceNumber, m.redelivered]),
        [['first', 1, false]],
      );
      assert.deepEqual(
        deliveriesOf(r.results[4]).map((m) => m.body.toString()),
        ['other'],
      );
      assert.deepEqual(new Set(r.wokenDevices), new Set(['d', 'e']));
      // The second message of d is still there, after the leased one.
      const [next] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 5 })).deliveries;
      assert.equal(next?.body.toString(), 'second');
      assert.equal(await kit.store.queueDepth('d', T0), 2);
    });

    describe("a direct lease (the engine's waiting receiver, after the group's enqueues)", () => {
      const fields = (d: Delivery) => ({ ...d, lockToken: 'x', body: d.body.toString() });

      test('gets what the group enqueues for its device, in order and up to its max, as a plain lease would', async () => {
        const r = await kit.store.commit(
          [
            { kind: 'enqueue', message: message('d', 'a', { messageId: 'm-a', ack: 'full', properties: { k: 'v' } }) },
            { kind: 'enqueue', message: message('e', 'other') },
            { kind: 'enqueue', message: message('d', 'b', { expiryTimeUtc: T0 + 5000, correlationId: 'c' }) },
            { kind: 'enqueue', message: message('d', 'c') },
            { kind: 'lease', deviceId: 'd', max: 2, direct: true },
          ],
          T0,
          POLICY,
        );
        const got = deliveriesOf(r.results[4]);
        assert.deepEqual(
          got.map((m) => [m.body.toString(), m.sequenceNumber, m.redelivered, m.deliveryCount]),
          [
            ['a', 1, false, 0],
            ['b', 2, false, 0],
          ],
        );
        for (const m of got) assert.match(m.lockToken, UUID);
        assert.equal(got[0]!.lockedUntil, T0 + POLICY.lockTimeoutMs);
        assert.equal(r.earliestDeadline, T0 + 5000);
        // What a plain lease of the same messages would have returned, field for field.
        await kit.store.commit(
          [
            { kind: 'enqueue', message: message('e', 'a', { messageId: 'm-a', ack: 'full', properties: { k: 'v' } }) },
            { kind: 'enqueue', message: message('e', 'b', { expiryTimeUtc: T0 + 5000, correlationId: 'c' }) },
          ],
          T0,
          POLICY,
        );
        const plain = (await kit.one({ kind: 'lease', deviceId: 'e', max: 3 })).deliveries;
        assert.deepEqual(
          got.map(fields),
          plain.slice(1).map((m) => ({ ...fields(m), deviceId: 'd', sequenceNumber: m.sequenceNumber - 1 })),
        );
        // The third message of d stays Enqueued behind them; the tokens settle like any others.
        assert.equal(await kit.store.queueDepth('d', T0), 3);
        const [c] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 5 })).deliveries;
        assert.equal(c?.body.toString(), 'c');
        assert.deepEqual(
          await kit.one({ kind: 'settle', deviceId: 'd', lockToken: got[0]!.lockToken, action: 'complete' }),
          { ok: true, outcome: 'completed' },
        );
        assert.deepEqual(
          await kit.one({ kind: 'settle', deviceId: 'd', lockToken: got[1]!.lockToken, action: 'abandon' }),
          { ok: true, outcome: 'requeued' },
        );
        const [again] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 5 })).deliveries;
        assert.deepEqual([again?.body.toString(), again?.redelivered, again?.deliveryCount], ['b', true, 1]);
      });

      test('a message it holds comes back when the lock runs out', async () => {
        const r = await kit.store.commit(
          [
            { kind: 'enqueue', message: message('d', 'a') },
            { kind: 'lease', deviceId: 'd', max: 1, direct: true },
          ],
          T0,
          POLICY,
        );
        const [a] = deliveriesOf(r.results[1]);
        assert.equal(await kit.store.nextDeadline(POLICY), a!.lockedUntil);
        assert.deepEqual((await kit.one({ kind: 'lease', deviceId: 'd', max: 1 })).deliveries, []);
        const [back] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 }, a!.lockedUntil)).deliveries;
        assert.deepEqual([back?.body.toString(), back?.redelivered], ['a', true]);
      });

      test('a message requeued earlier in the group comes first', async () => {
        await kit.one({ kind: 'enqueue', message: message('d', 'old') });
        const [old] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 })).deliveries;
        const r = await kit.store.commit(
          [
            { kind: 'release', deviceId: 'd', lockTokens: [old!.lockToken] },
            { kind: 'enqueue', message: message('d', 'new') },
            { kind: 'lease', deviceId: 'd', max: 5, direct: true },
          ],
          T0,
          POLICY,
        );
        assert.deepEqual(
          deliveriesOf(r.results[2]).map((m) => [m.body.toString(), m.redelivered]),
          [
            ['old', true],
            ['new', false],
          ],
        );
      });

      test('an enqueue after it, or for another device, is not its', async () => {
        const r = await kit.store.commit(
          [
            { kind: 'enqueue', message: message('e', 'for e') },
            { kind: 'lease', deviceId: 'd', max: 5, direct: true },
            { kind: 'enqueue', message: message('d', 'late') },
          ],
          T0,
          POLICY,
        );
        assert.deepEqual(deliveriesOf(r.results[1]), []);
        const [late] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 5 })).deliveries;
        assert.deepEqual([late?.body.toString(), late?.redelivered], ['late', false]);
        const [forE] = (await kit.one({ kind: 'lease', deviceId: 'e', max: 5 })).deliveries;
        assert.equal(forE?.body.toString(), 'for e');
      });

      test('a refused enqueue (queue full, disabled device) leases nothing', async () => {
        const full = { ...POLICY, maxQueueDepth: 1 };
        await kit.store.insertDevice(device('off', 'disabled'));
        const r = await kit.store.commit(
          [
            { kind: 'enqueue', message: message('d', 'fits') },
            { kind: 'enqueue', message: message('d', 'too many') },
            { kind: 'enqueue', message: message('off', 'x') },
            { kind: 'lease', deviceId: 'd', max: 5, direct: true },
            { kind: 'lease', deviceId: 'off', max: 5, direct: true },
          ],
          T0,
          full,
        );
        assert.equal((r.results[1] as { error: string }).error, 'DeviceMaximumQueueDepthExceeded');
        assert.equal((r.results[2] as { error: string }).error, 'DeviceNotFound');
        assert.deepEqual(
          deliveriesOf(r.results[3]).map((m) => m.body.toString()),
          ['fits'],
        );
        assert.deepEqual(deliveriesOf(r.results[4]), []);
      });
    });

    test('lock tokens are distinct UUID-shaped strings; a forged one is lock lost', async () => {
      for (let i = 0; i < 3; i++) await kit.one({ kind: 'enqueue', message: message('d', `m${i}`) });
      const got = (await kit.one({ kind: 'lease', deviceId: 'd', max: 3 })).deliveries;
      assert.equal(got.length, 3);
      for (const m of got) assert.match(m.lockToken, UUID);
      assert.equal(new Set(got.map((m) => m.lockToken)).size, 3);
      // The same row id with other random digits, and a token of another shape.
      const forged = `00000000-0000-4000-8000-${got[0]!.lockToken.slice(24)}`;
      for (const lockToken of [forged, 'not-a-token', '']) {
        assert.deepEqual(await kit.one({ kind: 'settle', deviceId: 'd', lockToken, action: 'complete' }), {
          ok: false,
          error: 'DeviceMessageLockLost',
        });
      }
      assert.equal(await kit.store.queueDepth('d', T0), 3);
    });

    test('a complete leaves a Success record exactly when the ack asks for one; an altered token is lock lost', async () => {
      const acks = [undefined, 'none', 'negative', 'positive', 'full'] as const;
      for (const ack of acks) {
        await kit.one({ kind: 'enqueue', message: message('d', String(ack), { ack, messageId: `m-${ack}` }) });
      }
      const got = (await kit.one({ kind: 'lease', deviceId: 'd', max: 5 })).deliveries;
      assert.deepEqual(
        got.map((m) => m.body.toString()),
        acks.map(String),
      );
      for (const m of got) {
        // Each character of the token's random part matters, the 15th included.
        const other = m.lockToken[14] === '0' ? '4' : '0';
        const altered = `${m.lockToken.slice(0, 14)}${other}${m.lockToken.slice(15)}`;
        assert.deepEqual(await kit.one({ kind: 'settle', deviceId: 'd', lockToken: altered, action: 'complete' }), {
          ok: false,
          error: 'DeviceMessageLockLost',
        });
      }
      const r = await kit.store.commit(
        got.map((m) => ({ kind: 'settle', deviceId: 'd', lockToken: m.lockToken, action: 'complete' })),
        T0,
        POLICY,
      );
      for (const result of r.results) assert.deepEqual(result, { ok: true, outcome: 'completed' });
      assert.deepEqual(
        (r.feedbackRecords ?? []).map((f) => [f.originalMessageId, f.statusCode]),
        [
          ['m-positive', 'Success'],
          ['m-full', 'Success'],
        ],
      );
      assert.equal(await kit.store.queueDepth('d', T0), 0);
    });

    test('an op that throws is rolled back alone; results and effects of the others are kept', async () => {
      await kit.one({ kind: 'enqueue', message: message('d', 'a') });
      const [a] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 })).deliveries;
      const broken = { ...message('e', 'x'), body: { not: 'a buffer' } as unknown as Buffer };
      const ops: QueueOp[] = [
        { kind: 'settle', deviceId: 'd', lockToken: a!.lockToken, action: 'complete' },
        { kind: 'enqueue', message: message('d', 'b') },
        { kind: 'lease', deviceId: 'd', max: 1 },
        { kind: 'enqueue', message: broken },
        { kind: 'enqueue', message: message('e', 'c', { expiryTimeUtc: T0 + 5000 }) },
      ];
      const r = await kit.store.commit(ops, T0, POLICY);
      assert.deepEqual(r.results[0], { ok: true, outcome: 'completed' });
      assert.deepEqual(r.results[1], { ok: true, sequenceNumber: 2 });
      const [b] = deliveriesOf(r.results[2]);
      assert.equal(b?.body.toString(), 'b');
      assert.equal((r.results[3] as { error: string }).error, 'ServerError');
      assert.deepEqual(r.results[4], { ok: true, sequenceNumber: 1 });
      assert.deepEqual(new Set(r.wokenDevices), new Set(['d', 'e']));
      assert.equal(r.earliestDeadline, T0 + 5000);
      // The lease returned by the commit holds: its token settles, the queue has what it should.
      assert.deepEqual(await kit.one({ kind: 'settle', deviceId: 'd', lockToken: b!.lockToken, action: 'complete' }), {
        ok: true,
        outcome: 'completed',
      });
      assert.equal(await kit.store.queueDepth('d', T0), 0);
      assert.equal(await kit.store.queueDepth('e', T0), 1);
    });

    test('each commit reports the earliest deadline it created', async () => {
      const commit = (ops: QueueOp[], now = T0) => kit.store.commit(ops, now, POLICY);
      const expiry = T0 + 100_000;
      const e = await commit([{ kind: 'enqueue', message: message('d', 'x', { expiryTimeUtc: expiry, ack: 'full' }) }]);
      assert.equal(e.earliestDeadline, expiry);
      const refused = await commit([{ kind: 'enqueue', message: message('nope', 'x') }]);
      assert.equal(refused.earliestDeadline, null);
      const l = await commit([{ kind: 'lease', deviceId: 'd', max: 1 }], T0 + 10);
      const [m] = deliveriesOf(l.results[0]);
      assert.equal(l.earliestDeadline, T0 + 10 + POLICY.lockTimeoutMs);
      assert.equal(m!.lockedUntil, T0 + 10 + POLICY.lockTimeoutMs);
      const empty = await commit([{ kind: 'lease', deviceId: 'd', max: 1 }]);
      assert.equal(empty.earliestDeadline, null);
      // A complete with ack full leaves a feedback record: a batch is due (here at once) and
      // the batch made lives until its TTL; the report is at most the earlier of them.
      const c = await commit([{ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }], T0 + 20);
      assert.ok(c.earliestDeadline !== null && c.earliestDeadline <= T0 + 20 + POLICY.feedback.ttlMs);
      const f = await commit([{ kind: 'leaseFeedback' }], T0 + 30);
      const batch = (f.results[0] as { batch: { lockedUntil: number } | null }).batch;
      assert.equal(batch?.lockedUntil, T0 + 30 + POLICY.feedback.lockDurationMs);
      assert.ok(f.earliestDeadline !== null && f.earliestDeadline <= batch.lockedUntil);
      // Nothing new: a refused settle creates no deadline.
      const lost = await commit([{ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }]);
      assert.equal(lost.earliestDeadline, null);
    });

    test('an enqueue and a lease in one commit report the earlier of TTL and lock', async () => {
      const r = await kit.store.commit(
        [
          { kind: 'enqueue', message: message('d', 'x', { expiryTimeUtc: T0 + 30_000 }) },
          { kind: 'lease', deviceId: 'd', max: 1 },
        ],
        T0,
        POLICY,
      );
      assert.equal(r.earliestDeadline, Math.min(T0 + 30_000, T0 + POLICY.lockTimeoutMs));
      assert.equal(await kit.store.nextDeadline(POLICY), Math.min(T0 + 30_000, T0 + POLICY.lockTimeoutMs));
    });

    test('a deadline passes without the scheduler: lease and settle at a later time see it', async () => {
      // Once the store has been asked for its deadlines (as the engine does at start).
      assert.equal(await kit.store.nextDeadline(POLICY), null);
      await kit.one({ kind: 'enqueue', message: message('d', 'short', { expiryTimeUtc: T0 + 50 }) });
      await kit.one({ kind: 'enqueue', message: message('d', 'long') });
      const [first] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 }, T0 + 10)).deliveries;
      assert.equal(first?.body.toString(), 'short');
      // Past the TTL of 'short': its settle is lock lost and the next lease skips it.
      assert.deepEqual(
        await kit.one({ kind: 'settle', deviceId: 'd', lockToken: first!.lockToken, action: 'complete' }, T0 + 50),
        { ok: false, error: 'DeviceMessageLockLost' },
      );
      const [second] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 }, T0 + 60)).deliveries;
      assert.equal(second?.body.toString(), 'long');
      // Past its lock: leased again, as a redelivery.
      const late = second!.lockedUntil;
      const [again] = (await kit.one({ kind: 'lease', deviceId: 'd', max: 1 }, late)).deliveries;
      assert.equal(again?.sequenceNumber, second!.sequenceNumber);
      assert.equal(again?.redelivered, true);
    });
  });
}
