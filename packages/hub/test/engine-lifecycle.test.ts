/** Engine: the queue lifecycle of DESIGN.md "Engine" and decisions 1 and 6, driven by a manual clock. */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { type FeedbackRecord, FerryError } from '@ferry/common';
import { type Harness, harness, msg } from './engine-harness.js';

const lockLost = (err: unknown) => err instanceof FerryError && err.errorName === 'DeviceMessageLockLost';

/** Every feedback record available now, batches completed. */
async function feedback(h: Harness): Promise<FeedbackRecord[]> {
  const out: FeedbackRecord[] = [];
  for (;;) {
    const b = await h.engine.receiveFeedback();
    if (!b) return out;
    out.push(...b.records);
    await h.engine.completeFeedback(b.lockToken);
  }
}

describe('engine lifecycle', () => {
  let h: Harness;
  afterEach(() => h.close());

  async function setup(c2d = {}) {
    h = await harness({ c2d, feedback: { batchDelayMs: 0 } });
    await h.addDevice('d');
  }

  test('complete removes the message with Success feedback (ack positive)', async () => {
    await setup();
    await h.engine.send('d', { ...msg('x'), messageId: 'm1', ack: 'positive' });
    const [m] = await h.engine.receive('d');
    h.clock.advance(5_000);
    await h.engine.complete('d', m!.lockToken);
    assert.equal(await h.engine.queueDepth('d'), 0);
    assert.deepEqual(await feedback(h), [
      {
        originalMessageId: 'm1',
        enqueuedTimeUtc: new Date(h.clock.now()).toISOString(),
        statusCode: 'Success',
        description: 'Success',
        deviceId: 'd',
        deviceGenerationId: 'gen-d',
      },
    ]);
    await assert.rejects(h.engine.complete('d', m!.lockToken), lockLost);
    await assert.rejects(h.engine.complete('d', 'not-a-token'), lockLost);
  });

  test('abandon returns the message to its original position with deliveryCount + 1', async () => {
    await setup();
    await h.engine.send('d', msg('first'));
    await h.engine.send('d', msg('second'));
    const [a] = await h.engine.receive('d');
    assert.equal(a!.redelivered, false);
    await h.engine.abandon('d', a!.lockToken);
    const [again] = await h.engine.receive('d');
    assert.equal(again!.body.toString(), 'first');
    assert.equal(again!.deliveryCount, 1);
    assert.equal(again!.redelivered, true);
    assert.notEqual(again!.lockToken, a!.lockToken);
    await assert.rejects(h.engine.complete('d', a!.lockToken), lockLost);
  });

  test('reaching maxDeliveryCount dead-letters with DeliveryCountExceeded', async () => {
    await setup({ maxDeliveryCount: 3 });
    await h.engine.send('d', { ...msg('x'), messageId: 'm', ack: 'negative' });
    for (let i = 0; i < 3; i++) {
      const [m] = await h.engine.receive('d');
      assert.equal(m!.deliveryCount, i);
      await h.engine.abandon('d', m!.lockToken);
    }
    assert.deepEqual(await h.engine.receive('d'), []);
    assert.equal(await h.engine.queueDepth('d'), 0);
    const [r] = await feedback(h);
    assert.equal(r!.statusCode, 'DeliveryCountExceeded');
    assert.equal(r!.description, 'DeliveryCountExceeded');
  });

  test('reject dead-letters with Rejected feedback', async () => {
    await setup();
    await h.engine.send('d', { ...msg('x'), messageId: 'm', ack: 'full' });
    const [m] = await h.engine.receive('d');
    await h.engine.reject('d', m!.lockToken);
    assert.equal(await h.engine.queueDepth('d'), 0);
    assert.deepEqual(
      (await feedback(h)).map((r) => r.statusCode),
      ['Rejected'],
    );
  });

  test('lock expiry returns the message to Enqueued without counting (decision 1)', async () => {
    await setup();
    await h.engine.send('d', msg('x'));
    const [m] = await h.engine.receive('d');
    await h.advance(59_999);
    assert.deepEqual(await h.engine.receive('d'), []);
    await h.advance(1);
    const [again] = await h.engine.receive('d');
    assert.equal(again!.sequenceNumber, m!.sequenceNumber);
    assert.equal(again!.deliveryCount, 0);
    assert.equal(again!.redelivered, true);
    await assert.rejects(h.engine.complete('d', m!.lockToken), lockLost);
    await h.engine.complete('d', again!.lockToken);
  });

  test('countLockExpiry makes lock expiry count and dead-letter at the max', async () => {
    await setup({ countLockExpiry: true, maxDeliveryCount: 2 });
    await h.engine.send('d', { ...msg('x'), ack: 'negative' });
    await h.engine.receive('d');
    await h.advance(60_000);
    const [again] = await h.engine.receive('d');
    assert.equal(again!.deliveryCount, 1);
    await h.advance(60_000);
    assert.deepEqual(await h.engine.receive('d'), []);
    assert.deepEqual(
      (await feedback(h)).map((r) => r.statusCode),
      ['DeliveryCountExceeded'],
    );
  });

  test('settling after the lock expired is DeviceMessageLockLost, and the message is receivable again', async () => {
    await setup();
    await h.engine.send('d', msg('x'));
    const [m] = await h.engine.receive('d');
    h.clock.advance(60_000); // no idle(): the scheduler may not have run yet
    await assert.rejects(h.engine.complete('d', m!.lockToken), lockLost);
    await assert.rejects(h.engine.abandon('d', m!.lockToken), lockLost);
    await assert.rejects(h.engine.reject('d', m!.lockToken), lockLost);
    assert.equal((await h.engine.receive('d')).length, 1);
  });

  test('TTL expiry dead-letters a locked message at once (Expired); a later settle is lock lost', async () => {
    await setup();
    const expiry = h.clock.now() + 30_000;
    await h.engine.send('d', { ...msg('x'), messageId: 'm', ack: 'negative', expiryTimeUtc: expiry });
    const [m] = await h.engine.receive('d');
    await h.advance(30_000);
    assert.equal(await h.engine.queueDepth('d'), 0);
    const records = await feedback(h);
    assert.deepEqual(
      records.map((r) => [r.statusCode, r.originalMessageId, r.enqueuedTimeUtc]),
      [['Expired', 'm', new Date(expiry).toISOString()]],
    );
    await assert.rejects(h.engine.complete('d', m!.lockToken), lockLost);
  });

  test('TTL expiry of an Enqueued message needs no receive to happen', async () => {
    await setup();
    await h.engine.send('d', { ...msg('x'), ack: 'full', expiryTimeUtc: h.clock.now() + 90_000 });
    await h.advance(90_000);
    assert.deepEqual(
      (await feedback(h)).map((r) => r.statusCode),
      ['Expired'],
    );
  });

  test('release returns leased messages like a lock expiry; unknown tokens are ignored', async () => {
    await setup();
    await h.engine.send('d', msg('a'));
    await h.engine.send('d', msg('b'));
    const leased = await h.engine.receive('d', 2);
    await h.engine.release('d', [...leased.map((m) => m.lockToken), 'unknown']);
    await h.engine.release('d', []);
    const again = await h.engine.receive('d', 2);
    assert.deepEqual(
      again.map((m) => [m.body.toString(), m.deliveryCount, m.redelivered]),
      [
        ['a', 0, true],
        ['b', 0, true],
      ],
    );
  });

  test('purge dead-letters every pending message as Purged; feedback for negative and full only (decision 6)', async () => {
    await setup();
    for (const ack of ['none', 'positive', 'negative', 'full'] as const) {
      await h.engine.send('d', { ...msg(ack), messageId: ack, ack });
    }
    const [locked] = await h.engine.receive('d');
    assert.equal(await h.engine.purge('d'), 4);
    assert.equal(await h.engine.queueDepth('d'), 0);
    await assert.rejects(h.engine.complete('d', locked!.lockToken), lockLost);
    assert.deepEqual((await feedback(h)).map((r) => [r.originalMessageId, r.statusCode, r.description]).sort(), [
      ['full', 'Purged', 'Purged'],
      ['negative', 'Purged', 'Purged'],
    ]);
    await assert.rejects(h.engine.purge('ghost'), (e) => e instanceof FerryError && e.errorName === 'DeviceNotFound');
  });

  test('feedback per iothub-ack: none, positive, negative, full', async () => {
    await setup();
    for (const ack of ['none', 'positive', 'negative', 'full'] as const) {
      await h.engine.send('d', { ...msg('ok'), messageId: `ok-${ack}`, ack });
      await h.engine.send('d', { ...msg('no'), messageId: `no-${ack}`, ack });
      const [ok, no] = await h.engine.receive('d', 2);
      await h.engine.complete('d', ok!.lockToken);
      await h.engine.reject('d', no!.lockToken);
    }
    assert.deepEqual((await feedback(h)).map((r) => `${r.originalMessageId}:${r.statusCode}`).sort(), [
      'no-full:Rejected',
      'no-negative:Rejected',
      'ok-full:Success',
      'ok-positive:Success',
    ]);
  });

  test('a message without message id gives feedback with an empty originalMessageId', async () => {
    await setup();
    await h.engine.send('d', { ...msg('x'), ack: 'positive' });
    const [m] = await h.engine.receive('d');
    await h.engine.complete('d', m!.lockToken);
    assert.equal((await feedback(h))[0]!.originalMessageId, '');
  });

  test('device deletion removes its queue', async () => {
    await setup();
    await h.engine.send('d', msg('x'));
    await h.engine.send('d', msg('y'));
    const [m] = await h.engine.receive('d');
    assert.equal(await h.store.deleteDevice('d'), true);
    assert.equal(await h.engine.queueDepth('d'), 0);
    await assert.rejects(h.engine.complete('d', m!.lockToken), lockLost);
    assert.deepEqual(await h.engine.receive('d'), []);
    await assert.rejects(
      h.engine.send('d', msg('z')),
      (e) => e instanceof FerryError && e.errorName === 'DeviceNotFound',
    );
  });
});
