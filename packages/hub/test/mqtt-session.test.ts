import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { settle, startTestHub, subscribe, until } from './mqtt-helpers.js';

const mid = (p: IPublishPacket) => decodeURIComponent(/%24\.mid=([^&]*)/.exec(p.topic)![1]!);

describe('MQTT sessions', () => {
  test('clean session 0: a reconnect (token renewal) keeps the subscription without SUBSCRIBE', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const a = await hub.connect('dev1', key);
    assert.equal(a.connack.sessionPresent, false);
    await subscribe(a.client, 'dev1');
    a.client.send({ cmd: 'disconnect' });
    await a.client.waitClosed();
    const b = await hub.connect('dev1', key);
    assert.equal(b.connack.sessionPresent, true);
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    const pub = await b.client.next('publish');
    assert.equal(mid(pub), 'm1');
    assert.deepEqual(await hub.store.getMqttSession('dev1'), { deviceId: 'dev1', c2dQos: 1 });
  });

  test('messages sent while the device was offline arrive in order at the next connect', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const a = await hub.connect('dev1', key);
    await subscribe(a.client, 'dev1');
    a.client.end();
    await a.client.waitClosed();
    for (let i = 1; i <= 5; i++) await hub.engine.send('dev1', { messageId: `m${i}`, body: Buffer.alloc(1) });
    const b = await hub.connect('dev1', key);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await b.client.next('publish');
      got.push(mid(p));
      b.client.send({ cmd: 'puback', messageId: p.messageId! });
    }
    assert.deepEqual(got, ['m1', 'm2', 'm3', 'm4', 'm5']);
    await until(() => hub.engine.completed.length === 5, 'completions');
  });

  test('a dropped connection releases its in-flight messages; they come back with DUP at the next connect', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const a = await hub.connect('dev1', key);
    await subscribe(a.client, 'dev1');
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    await hub.engine.send('dev1', { messageId: 'm2', body: Buffer.alloc(1) });
    const first = await a.client.next('publish');
    assert.equal(first.dup, false);
    await a.client.next('publish');
    a.client.stream.destroy();
    await until(() => hub.engine.released.length === 2, 'release');
    const b = await hub.connect('dev1', key);
    const p1 = await b.client.next('publish');
    const p2 = await b.client.next('publish');
    assert.deepEqual([mid(p1), mid(p2), p1.dup, p2.dup], ['m1', 'm2', true, true]);
  });

  test('a takeover hands the in-flight messages to the new connection first, in order', async () => {
    const hub = await startTestHub({ mqtt: { maxInflight: 2 } });
    const key = await hub.device('dev1');
    const a = await hub.connect('dev1', key);
    await subscribe(a.client, 'dev1');
    for (const id of ['m1', 'm2', 'm3']) await hub.engine.send('dev1', { messageId: id, body: Buffer.alloc(1) });
    await a.client.next('publish');
    await a.client.next('publish');
    // m3 waits in the queue (maxInflight 2) while m1 and m2 are in flight on the old connection.
    const b = await hub.connect('dev1', key);
    await a.client.waitClosed();
    const got: Array<[string, boolean]> = [];
    for (let i = 0; i < 3; i++) {
      const p = await b.client.next('publish');
      got.push([mid(p), p.dup]);
      b.client.send({ cmd: 'puback', messageId: p.messageId! });
    }
    assert.deepEqual(got, [
      ['m1', true],
      ['m2', true],
      ['m3', false],
    ]);
  });

  test('the subscription and its QoS survive a hub restart (store-backed sessions)', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const a = await hub.connect('dev1', key);
    assert.deepEqual(await subscribe(a.client, 'dev1', 0), [0]);
    await hub.restart();
    await a.client.waitClosed();
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    const b = await hub.connect('dev1', key);
    assert.equal(b.connack.sessionPresent, true);
    const p = await b.client.next('publish');
    assert.equal(p.qos, 0);
    assert.equal(mid(p), 'm1');
  });

  test('without a session store, sessions survive reconnects but not a restart', async () => {
    const hub = await startTestHub({ sessions: false });
    const key = await hub.device('dev1');
    const a = await hub.connect('dev1', key);
    await subscribe(a.client, 'dev1');
    a.client.end();
    await a.client.waitClosed();
    const b = await hub.connect('dev1', key);
    assert.equal(b.connack.sessionPresent, true);
    await hub.restart();
    const c = await hub.connect('dev1', key);
    assert.equal(c.connack.sessionPresent, false);
    assert.equal(await hub.store.getMqttSession('dev1'), undefined);
  });

  test('clean session 1 discards the stored session and starts without a subscription', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const a = await hub.connect('dev1', key);
    await subscribe(a.client, 'dev1');
    a.client.end();
    await a.client.waitClosed();
    const b = await hub.connect('dev1', key, { clean: true });
    assert.equal(b.connack.sessionPresent, false);
    assert.equal(await hub.store.getMqttSession('dev1'), undefined);
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    await settle();
    assert.equal(b.client.packets.length, 0);
    // A clean session's subscription is not kept after it ends.
    await subscribe(b.client, 'dev1');
    const p = await b.client.next('publish');
    b.client.send({ cmd: 'puback', messageId: p.messageId! });
    await until(() => hub.engine.completed.length === 1, 'completion');
    b.client.end();
    await b.client.waitClosed();
    const c = await hub.connect('dev1', key);
    assert.equal(c.connack.sessionPresent, false);
  });

  test('UNSUBSCRIBE is remembered by the session', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const a = await hub.connect('dev1', key);
    await subscribe(a.client, 'dev1');
    a.client.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['devices/dev1/messages/devicebound/#'] });
    await a.client.next('unsuback');
    a.client.end();
    await a.client.waitClosed();
    const b = await hub.connect('dev1', key);
    assert.equal(b.connack.sessionPresent, true);
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    await settle();
    assert.equal(b.client.packets.length, 0);
  });
});
