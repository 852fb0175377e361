/**
 * The contract every Store adapter must pass (SQLite now, PostgreSQL later). It talks to the
 * Store interface only, with explicit times and limits, so it proves the C2D rules live in the
 * adapter's transactions and not in the engine. An adapter's test file runs it with
 * `runStoreContract('name', async () => openAFreshEmptyStore())`; each test gets a new store and
 * closes it. Parts: registry, queue (here), commit groups (store-contract-commit.ts), feedback
 * (store-contract-feedback.ts).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { EnqueueResult, NewMessage, QueueOp, QueueOpResult, QueueOpResults, Store } from '../src/store/types.js';
import { clusterContract } from './store-contract-cluster.js';
import { commitContract } from './store-contract-commit.js';
import { deadLetterContract } from './store-contract-dead-letters.js';
import { feedbackQueueContract } from './store-contract-feedback.js';
import { historyContract } from './store-contract-history.js';
import { inspectionContract } from './store-contract-inspection.js';
import { device, message, POLICY, T0 } from './store-contract-kit.js';
import { registryExtrasContract } from './store-contract-registry-extras.js';

export { POLICY };

export function runStoreContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    /** Commits one op and returns its result, typed by kind. */
    async function one<K extends QueueOp['kind']>(
      op: QueueOp & { kind: K },
      now = T0,
      policy = POLICY,
    ): Promise<QueueOpResults[K]> {
      const { results } = await store.commit([op], now, policy);
      const r = results[0] as QueueOpResult<K>;
      if (!r.ok && r.error === 'ServerError') throw r.cause;
      return r as QueueOpResults[K];
    }
    const enqueue = (m: NewMessage, now = T0) => one({ kind: 'enqueue', message: m }, now);
    const lease = async (deviceId: string, max = 1, now = T0) =>
      (await one({ kind: 'lease', deviceId, max }, now)).deliveries;
    const feedbackBatch = async (now: number) => (await one({ kind: 'leaseFeedback' }, now)).batch;

    test('ping answers once the storage does, and writes nothing', async () => {
      await store.ping();
      assert.deepEqual(await store.countDevices(), { total: 0, enabled: 0, disabled: 0 });
      assert.equal(await store.nextDeadline(POLICY), null);
    });

    describe('registry', () => {
      test('insert, get, list, count; a second insert of the same id is refused', async () => {
        assert.equal(await store.insertDevice(device('b')), true);
        assert.equal(await store.insertDevice(device('a', 'disabled')), true);
        assert.equal(await store.insertDevice(device('a')), false);
        assert.deepEqual(await store.getDevice('b'), device('b'));
        assert.equal(await store.getDevice('zz'), undefined);
        assert.deepEqual(
          (await store.listDevices(10)).map((d) => d.deviceId),
          ['a', 'b'],
        );
        assert.equal((await store.listDevices(1)).length, 1);
        assert.deepEqual(await store.countDevices(), { total: 2, enabled: 1, disabled: 1 });
      });

      test('replace honours the expected etag', async () => {
        await store.insertDevice(device('a'));
        assert.equal(await store.replaceDevice({ ...device('a', 'disabled'), etag: 'e2' }, 'wrong'), false);
        assert.equal(await store.replaceDevice({ ...device('a', 'disabled'), etag: 'e2' }, 'e1'), true);
        assert.equal((await store.getDevice('a'))?.status, 'disabled');
        assert.equal(await store.replaceDevice({ ...device('a'), etag: 'e3' }), true);
        assert.equal(await store.replaceDevice(device('missing')), false);
      });

      test('policies are inserted once and kept', async () => {
        const p = { keyName: 'service', primaryKey: 'k1', secondaryKey: 'k2', rights: ['ServiceConnect'] };
        await store.ensurePolicies([p]);
        await store.ensurePolicies([{ ...p, primaryKey: 'other' }]);
        assert.deepEqual(await store.getPolicies(), [p]);
      });

      test('MQTT sessions: put, replace, delete', async () => {
        await store.putMqttSession({ deviceId: 'a', c2dQos: 1 });
        await store.putMqttSession({ deviceId: 'a', c2dQos: 0 });
        assert.deepEqual(await store.getMqttSession('a'), { deviceId: 'a', c2dQos: 0 });
        await store.putMqttSession({ deviceId: 'a', c2dQos: null });
        assert.deepEqual(await store.getMqttSession('a'), { deviceId: 'a', c2dQos: null });
        // The $iothub subscriptions a clean-session-0 device keeps: twin topics and direct methods.
        const subscribed = {
          deviceId: 'a',
          c2dQos: 1 as const,
          twin: { responses: false, desired: true },
          methods: true as const,
        };
        await store.putMqttSession(subscribed);
        assert.deepEqual(await store.getMqttSession('a'), subscribed);
        await store.putMqttSession({ deviceId: 'a', c2dQos: 1, methods: true });
        assert.deepEqual(await store.getMqttSession('a'), { deviceId: 'a', c2dQos: 1, methods: true });
        await store.deleteMqttSession('a');
        assert.equal(await store.getMqttSession('a'), undefined);
      });

      test('deleteDevice removes the queue, the MQTT session and un-batched feedback, and honours the etag', async () => {
        await store.insertDevice(device('a'));
        await store.insertDevice(device('b'));
        await enqueue(message('a', 'x'));
        await enqueue(message('a', 'y', { ack: 'positive' }));
        await enqueue(message('b', 'z', { ack: 'positive' }));
        // Batch at once for b's record later, but a's record must be gone before.
        const [da] = await lease('a', 2);
        const [db] = await lease('b');
        await one({ kind: 'settle', deviceId: 'a', lockToken: da!.lockToken, action: 'complete' }); // ack none
        await store.putMqttSession({ deviceId: 'a', c2dQos: 1 });
        assert.equal(await store.deleteDevice('a', 'wrong'), false);
        assert.equal(await store.deleteDevice('a', 'e1'), true);
        assert.equal(await store.deleteDevice('a'), false);
        assert.equal(await store.getDevice('a'), undefined);
        assert.equal(await store.queueDepth('a', T0), 0);
        assert.equal(await store.getMqttSession('a'), undefined);
        await one({ kind: 'settle', deviceId: 'b', lockToken: db!.lockToken, action: 'complete' });
        // Recreated device starts a fresh queue.
        await store.insertDevice(device('a'));
        const r = await enqueue(message('a', 'again'));
        assert.deepEqual(r, { ok: true, sequenceNumber: 1 });
      });

      test('deleteDevice drops the device’s pending feedback records', async () => {
        await store.insertDevice(device('a'));
        await store.insertDevice(device('b'));
        const policy = { ...POLICY, feedback: { ...POLICY.feedback, batchDelayMs: 15_000 } };
        // First batch is made at once (no batch yet); a later record waits 15 s.
        await one({ kind: 'enqueue', message: message('b', 'first', { ack: 'positive' }) }, T0, policy);
        const [first] = await lease('b');
        await one({ kind: 'settle', deviceId: 'b', lockToken: first!.lockToken, action: 'complete' }, T0, policy);
        await enqueue(message('a', 'x', { ack: 'positive', messageId: 'from-a' }));
        const [d] = await lease('a');
        await one({ kind: 'settle', deviceId: 'a', lockToken: d!.lockToken, action: 'complete' }, T0 + 1);
        await store.deleteDevice('a');
        await one({ kind: 'expire', limit: 100 }, T0 + 20_000);
        const b1 = await feedbackBatch(T0 + 20_000);
        assert.deepEqual(
          b1?.records.map((r) => r.deviceId),
          ['b'],
        );
        await one({ kind: 'settleFeedback', lockToken: b1!.lockToken, action: 'complete' }, T0 + 20_000);
        assert.equal(await feedbackBatch(T0 + 20_000), null);
      });
    });

    describe('enqueue and lease', () => {
      beforeEach(async () => {
        await store.insertDevice(device('d'));
        await store.insertDevice(device('off', 'disabled'));
      });

      test('unknown and disabled devices are refused with DeviceNotFound', async () => {
        assert.deepEqual(await enqueue(message('nope', 'x')), { ok: false, error: 'DeviceNotFound' });
        assert.deepEqual(await enqueue(message('off', 'x')), { ok: false, error: 'DeviceNotFound' });
      });

      test('per-device sequence numbers and FIFO lease with all fields', async () => {
        const full = message('d', 'one', {
          messageId: 'm1',
          correlationId: 'c1',
          userId: 'u1',
          contentType: 'text/plain',
          contentEncoding: 'utf-8',
          ack: 'full',
          properties: { a: '1', b: '' },
        });
        assert.deepEqual(await enqueue(full), { ok: true, sequenceNumber: 1 });
        assert.deepEqual(await enqueue(message('d', 'two')), { ok: true, sequenceNumber: 2 });
        assert.deepEqual(await enqueue(message('d', 'three', { body: Buffer.alloc(0) })), {
          ok: true,
          sequenceNumber: 3,
        });
        const got = await lease('d', 2, T0 + 5);
        assert.equal(got.length, 2);
        const [a, b] = got;
        assert.equal(a!.sequenceNumber, 1);
        assert.equal(a!.messageId, 'm1');
        assert.equal(a!.correlationId, 'c1');
        assert.equal(a!.userId, 'u1');
        assert.equal(a!.contentType, 'text/plain');
        assert.equal(a!.contentEncoding, 'utf-8');
        assert.equal(a!.ack, 'full');
        assert.deepEqual(a!.properties, { a: '1', b: '' });
        assert.equal(a!.body.toString(), 'one');
        assert.equal(a!.enqueuedTimeUtc, T0);
        assert.equal(a!.expiryTimeUtc, T0 + 3_600_000);
        assert.equal(a!.deliveryCount, 0);
        assert.equal(a!.redelivered, false);
        assert.equal(a!.lockedUntil, T0 + 5 + 60_000);
        assert.equal(b!.sequenceNumber, 2);
        assert.equal(b!.messageId, undefined);
        assert.notEqual(a!.lockToken, b!.lockToken);
        const [c] = await lease('d', 5);
        assert.equal(c!.sequenceNumber, 3);
        assert.equal(c!.body.length, 0);
        assert.deepEqual(await lease('d'), []);
        assert.deepEqual(await lease('nope'), []);
      });

      test('what the sender did not set stays unset: no ack, a default expiry (issue 13)', async () => {
        const bare: NewMessage = {
          deviceId: 'd',
          expiryTimeUtc: T0 + 3_600_000,
          defaultExpiry: true,
          properties: {},
          body: Buffer.from('b'),
        };
        await enqueue(bare);
        await enqueue(message('d', 'explicit', { ack: 'none' }));
        const [a, b] = await lease('d', 2);
        assert.equal(a!.ack, undefined);
        assert.equal(a!.defaultExpiry, true);
        assert.equal(a!.expiryTimeUtc, T0 + 3_600_000);
        assert.equal(b!.ack, 'none');
        assert.notEqual(b!.defaultExpiry, true);
        // An unset ack means none: rejecting leaves no feedback record.
        await one({ kind: 'settle', deviceId: 'd', lockToken: a!.lockToken, action: 'reject' });
        assert.equal(await feedbackBatch(T0 + 20_000), null);
      });

      test('queue depth counts Enqueued and Invisible; the limit refuses the next send', async () => {
        for (let i = 0; i < 5; i++) assert.equal((await enqueue(message('d', `m${i}`))).ok, true);
        await lease('d', 2);
        assert.equal(await store.queueDepth('d', T0), 5);
        assert.deepEqual(await enqueue(message('d', 'm6')), { ok: false, error: 'DeviceMaximumQueueDepthExceeded' });
      });

      test('one failing op does not fail the others in the same commit', async () => {
        const broken = { ...message('d', 'x'), body: { not: 'a buffer' } as unknown as Buffer };
        const { results } = await store.commit(
          [
            { kind: 'enqueue', message: message('d', 'a') },
            { kind: 'enqueue', message: broken },
            { kind: 'enqueue', message: message('nope', 'b') },
            { kind: 'enqueue', message: message('d', 'c') },
          ],
          T0,
          POLICY,
        );
        assert.deepEqual(results[0], { ok: true, sequenceNumber: 1 });
        assert.equal(results[1]!.ok, false);
        assert.equal((results[1] as { error: string }).error, 'ServerError');
        assert.deepEqual(results[2], { ok: false, error: 'DeviceNotFound' });
        assert.deepEqual(results[3], { ok: true, sequenceNumber: 2 });
        assert.equal(await store.queueDepth('d', T0), 2);
      });

      test('a commit reports the devices it woke', async () => {
        const r = await store.commit([{ kind: 'enqueue', message: message('d', 'a') }], T0, POLICY);
        assert.deepEqual(r.wokenDevices, ['d']);
      });
    });

    describe('settle, expiry and deadlines', () => {
      beforeEach(async () => {
        await store.insertDevice(device('d'));
      });

      test('complete removes; a second complete is lock lost; a token is bound to its device', async () => {
        await enqueue(message('d', 'x'));
        const [m] = await lease('d');
        assert.deepEqual(
          await one({ kind: 'settle', deviceId: 'other', lockToken: m!.lockToken, action: 'complete' }),
          {
            ok: false,
            error: 'DeviceMessageLockLost',
          },
        );
        assert.deepEqual(await one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }), {
          ok: true,
          outcome: 'completed',
        });
        assert.deepEqual(await one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }), {
          ok: false,
          error: 'DeviceMessageLockLost',
        });
        assert.equal(await store.queueDepth('d', T0), 0);
      });

      test('abandon keeps the position and counts; the max dead-letters', async () => {
        await enqueue(message('d', 'first'));
        await enqueue(message('d', 'second'));
        for (let i = 1; i < POLICY.maxDeliveryCount; i++) {
          const [m] = await lease('d');
          assert.equal(m!.body.toString(), 'first');
          assert.equal(m!.deliveryCount, i - 1);
          assert.equal(m!.redelivered, i > 1);
          const r = await one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'abandon' });
          assert.deepEqual(r, { ok: true, outcome: 'requeued' });
        }
        const [last] = await lease('d');
        const r = await one({ kind: 'settle', deviceId: 'd', lockToken: last!.lockToken, action: 'abandon' });
        assert.deepEqual(r, { ok: true, outcome: 'deadLettered' });
        const [next] = await lease('d');
        assert.equal(next!.body.toString(), 'second');
      });

      test('lock expiry returns the message without counting, unless countLockExpiry', async () => {
        await enqueue(message('d', 'x'));
        const [m] = await lease('d');
        assert.equal(await store.nextDeadline(POLICY), m!.lockedUntil);
        const due = m!.lockedUntil;
        const r = await one({ kind: 'expire', limit: 100 }, due);
        assert.deepEqual(r, { ok: true, expired: 0, locksExpired: 1, more: false });
        assert.deepEqual(
          await one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }, due),
          {
            ok: false,
            error: 'DeviceMessageLockLost',
          },
        );
        const [again] = await lease('d', 1, due);
        assert.equal(again!.deliveryCount, 0);
        assert.equal(again!.redelivered, true);
        const counting = { ...POLICY, countLockExpiry: true };
        await one({ kind: 'expire', limit: 100 }, again!.lockedUntil, counting);
        const [third] = await lease('d', 1, again!.lockedUntil);
        assert.equal(third!.deliveryCount, 1);
      });

      test('an expired lock is lost even before the scheduler ran', async () => {
        await enqueue(message('d', 'x'));
        const [m] = await lease('d');
        const late = m!.lockedUntil;
        assert.deepEqual(
          await one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }, late),
          { ok: false, error: 'DeviceMessageLockLost' },
        );
        const [again] = await lease('d', 1, late);
        assert.equal(again!.sequenceNumber, m!.sequenceNumber);
      });

      test('TTL expiry dead-letters a locked message at once; its settle is lock lost', async () => {
        await enqueue(message('d', 'x', { expiryTimeUtc: T0 + 10_000, ack: 'negative', messageId: 'm' }));
        await enqueue(message('d', 'y'));
        const [m] = await lease('d');
        assert.equal(await store.nextDeadline(POLICY), T0 + 10_000);
        const r = await one({ kind: 'expire', limit: 100 }, T0 + 10_000);
        assert.deepEqual(r, { ok: true, expired: 1, locksExpired: 0, more: false });
        assert.equal(await store.queueDepth('d', T0 + 10_000), 1);
        assert.deepEqual(
          await one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }, T0 + 10_000),
          { ok: false, error: 'DeviceMessageLockLost' },
        );
        const b = await feedbackBatch(T0 + 10_000);
        assert.deepEqual(b?.records, [
          {
            originalMessageId: 'm',
            enqueuedTimeUtc: new Date(T0 + 10_000).toISOString(),
            statusCode: 'Expired',
            description: 'Expired',
            deviceId: 'd',
            deviceGenerationId: 'g-d',
          },
        ]);
      });

      test('an expired message is never leased, even before the scheduler ran', async () => {
        await enqueue(message('d', 'x', { expiryTimeUtc: T0 + 10 }));
        assert.deepEqual(await lease('d', 1, T0 + 10), []);
        assert.equal(await store.queueDepth('d', T0 + 10), 0);
      });

      test('expire works in batches and says when more is due', async () => {
        for (let i = 0; i < 5; i++) await enqueue(message('d', `m${i}`, { expiryTimeUtc: T0 + 100 }));
        const r1 = await one({ kind: 'expire', limit: 2 }, T0 + 100);
        assert.deepEqual(r1, { ok: true, expired: 2, locksExpired: 0, more: true });
        await one({ kind: 'expire', limit: 2 }, T0 + 100);
        const r3 = await one({ kind: 'expire', limit: 2 }, T0 + 100);
        assert.deepEqual(r3, { ok: true, expired: 1, locksExpired: 0, more: false });
        assert.equal(await store.nextDeadline(POLICY), null);
      });

      test('release returns locked messages; unknown tokens are ignored', async () => {
        await enqueue(message('d', 'a'));
        await enqueue(message('d', 'b'));
        const ms = await lease('d', 2);
        const r = await one({ kind: 'release', deviceId: 'd', lockTokens: [...ms.map((m) => m.lockToken), 'junk'] });
        assert.deepEqual(r, { ok: true, released: 2 });
        const again = await lease('d', 2);
        assert.deepEqual(
          again.map((m) => [m.sequenceNumber, m.deliveryCount, m.redelivered]),
          [
            [1, 0, true],
            [2, 0, true],
          ],
        );
      });

      test('reject dead-letters', async () => {
        await enqueue(message('d', 'a', { ack: 'negative' }));
        const [m] = await lease('d');
        assert.deepEqual(await one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'reject' }), {
          ok: true,
          outcome: 'deadLettered',
        });
        assert.equal(await store.queueDepth('d', T0), 0);
      });

      test('purge removes pending and locked messages; unknown device is refused', async () => {
        await enqueue(message('d', 'a'));
        await enqueue(message('d', 'b'));
        const [m] = await lease('d');
        assert.deepEqual(await one({ kind: 'purge', deviceId: 'd' }), { ok: true, purged: 2 });
        assert.deepEqual(await one({ kind: 'purge', deviceId: 'nope' }), { ok: false, error: 'DeviceNotFound' });
        assert.deepEqual(await one({ kind: 'settle', deviceId: 'd', lockToken: m!.lockToken, action: 'complete' }), {
          ok: false,
          error: 'DeviceMessageLockLost',
        });
        assert.equal(await store.queueDepth('d', T0), 0);
      });
    });

    const kit = {
      get store() {
        return store;
      },
      one,
      feedbackBatch,
    };
    commitContract(kit);
    feedbackQueueContract(kit);
    registryExtrasContract(kit);
    inspectionContract(kit);
    deadLetterContract(kit);
    historyContract(kit);
    clusterContract(kit);
  });
}

export type { EnqueueResult };
