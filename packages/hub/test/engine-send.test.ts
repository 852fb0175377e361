/** Engine: send validation (decisions 2-5, 9), sequence numbers, FIFO receive. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { FerryError, type OutgoingMessage } from '@ferry/common';
import { type Harness, harness, msg } from './engine-harness.js';

function code(name: string) {
  return (err: unknown) => err instanceof FerryError && err.errorName === name;
}

describe('engine send', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness({ c2d: { maxQueueDepth: 3 } });
    await h.addDevice('d');
  });
  afterEach(() => h.close());

  test('assigns per-device sequence numbers and keeps the message id', async () => {
    await h.addDevice('e');
    assert.deepEqual(await h.engine.send('d', { ...msg('a'), messageId: 'm1' }), {
      messageId: 'm1',
      sequenceNumber: 1,
    });
    assert.deepEqual(await h.engine.send('d', msg('b')), { messageId: undefined, sequenceNumber: 2 });
    assert.deepEqual(await h.engine.send('e', msg('c')), { messageId: undefined, sequenceNumber: 1 });
  });

  test('receive is FIFO by sequence number and shows the message as sent', async () => {
    const sent: OutgoingMessage = {
      body: Buffer.from('payload'),
      messageId: 'mid',
      correlationId: 'cid',
      userId: 'uid',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      ack: 'full',
      expiryTimeUtc: h.clock.now() + 120_000,
      properties: { k: 'v' },
    };
    await h.engine.send('d', sent);
    await h.engine.send('d', msg('second'));
    const [first] = await h.engine.receive('d');
    assert.equal(first!.sequenceNumber, 1);
    assert.equal(first!.body.toString(), 'payload');
    assert.equal(first!.messageId, 'mid');
    assert.equal(first!.correlationId, 'cid');
    assert.equal(first!.userId, 'uid');
    assert.equal(first!.contentType, 'application/json');
    assert.equal(first!.contentEncoding, 'utf-8');
    assert.equal(first!.ack, 'full');
    assert.equal(first!.expiryTimeUtc, sent.expiryTimeUtc);
    assert.equal(first!.enqueuedTimeUtc, h.clock.now());
    assert.deepEqual(first!.properties, { k: 'v' });
    assert.equal(first!.deliveryCount, 0);
    assert.equal(first!.lockedUntil, h.clock.now() + 60_000);
    const [second] = await h.engine.receive('d', 5);
    assert.equal(second!.body.toString(), 'second');
    assert.deepEqual(await h.engine.receive('d'), []);
  });

  test('default expiry is now + defaultTtl', async () => {
    await h.engine.send('d', msg('x'));
    const [m] = await h.engine.receive('d');
    assert.equal(m!.expiryTimeUtc, h.clock.now() + 3_600_000);
  });

  test('unknown and disabled devices get DeviceNotFound (decision 9)', async () => {
    await h.addDevice('off', 'disabled');
    await assert.rejects(h.engine.send('nobody', msg('x')), code('DeviceNotFound'));
    await assert.rejects(h.engine.send('off', msg('x')), code('DeviceNotFound'));
  });

  test('a message over maxMessageSize gets MessageTooLarge; exactly the limit passes', async () => {
    const h2 = await harness({ c2d: { maxMessageSize: 100 } });
    await h2.addDevice('d');
    // messageSize counts body + system property values + application property names and values.
    const at = { body: Buffer.alloc(90), messageId: 'abcd', properties: { ab: 'cdef' } };
    await h2.engine.send('d', at);
    await assert.rejects(h2.engine.send('d', { ...at, messageId: 'abcde' }), code('MessageTooLarge'));
    await h2.close();
  });

  test('the default limit is 64 KiB', async () => {
    await h.engine.send('d', { body: Buffer.alloc(65_536) });
    await assert.rejects(h.engine.send('d', { body: Buffer.alloc(65_537) }), code('MessageTooLarge'));
  });

  test('expiry not in the future or beyond maxTtl gets InvalidMessageExpiryTime (decision 3)', async () => {
    const now = h.clock.now();
    for (const bad of [now, now - 1, now + 2 * 86_400_000 + 1, Number.NaN]) {
      await assert.rejects(h.engine.send('d', { ...msg('x'), expiryTimeUtc: bad }), code('InvalidMessageExpiryTime'));
    }
    await h.engine.send('d', { ...msg('x'), expiryTimeUtc: now + 2 * 86_400_000 });
    await h.engine.send('d', { ...msg('x'), expiryTimeUtc: now + 1 });
  });

  test('an unknown ack value gets ArgumentInvalid (decision 4)', async () => {
    await assert.rejects(
      h.engine.send('d', { ...msg('x'), ack: 'sometimes' as unknown as OutgoingMessage['ack'] }),
      code('ArgumentInvalid'),
    );
    for (const ack of ['none', 'positive', 'negative', 'full'] as const) {
      await h.addDevice(ack);
      await h.engine.send(ack, { ...msg(ack), ack });
    }
  });

  test('a message without message id is accepted (decision 5)', async () => {
    await h.engine.send('d', msg('x'));
    const [m] = await h.engine.receive('d');
    assert.equal(m!.messageId, undefined);
  });

  test('queue depth counts locked messages; the next send gets DeviceMaximumQueueDepthExceeded (decision 2)', async () => {
    for (let i = 0; i < 3; i++) await h.engine.send('d', msg(`m${i}`));
    await h.engine.receive('d', 2);
    assert.equal(await h.engine.queueDepth('d'), 3);
    await assert.rejects(h.engine.send('d', msg('over')), code('DeviceMaximumQueueDepthExceeded'));
    const [m] = await h.engine.receive('d');
    await h.engine.complete('d', m!.lockToken);
    await h.engine.send('d', msg('fits again'));
  });

  test('sendMany settles each item on its own', async () => {
    const r = await h.engine.sendMany([
      { deviceId: 'd', message: msg('a') },
      { deviceId: 'ghost', message: msg('b') },
      { deviceId: 'd', message: { ...msg('c'), ack: 'bogus' as unknown as OutgoingMessage['ack'] } },
      { deviceId: 'd', message: msg('d') },
    ]);
    assert.deepEqual(r[0], { messageId: undefined, sequenceNumber: 1 });
    assert.ok(code('DeviceNotFound')(r[1]));
    assert.ok(code('ArgumentInvalid')(r[2]));
    assert.deepEqual(r[3], { messageId: undefined, sequenceNumber: 2 });
  });

  test('a stopped engine refuses new work with ServiceUnavailable', async () => {
    await h.engine.stop();
    await assert.rejects(h.engine.send('d', msg('late')), code('ServiceUnavailable'));
  });
});
