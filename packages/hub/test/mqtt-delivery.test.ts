import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import type { IPublishPacket } from 'mqtt-packet';
import { c2dFilter, settle, startTestHub, subscribe, until } from './mqtt-helpers.js';

/** The official client's own C2D decoding (azure-iot-device-mqtt `_onC2DMessage`), run on our topic. */
interface OfficialMessage {
  messageId?: string;
  to?: string;
  expiryTimeUtc?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  data: Buffer;
  properties: { count(): number; getItem(i: number): { key: string; value: string } };
}
type OnC2d = (this: unknown, topic: string, payload: Buffer) => void;
const { Mqtt } = createRequire(import.meta.url)('azure-iot-device-mqtt') as {
  Mqtt: { prototype: { _onC2DMessage: OnC2d; _extractPropertiesFromTopicPart: unknown } };
};
function officialDecode(topic: string, payload: Buffer): OfficialMessage {
  // The official client only routes topics matching this to C2D (official-sdk-wire.md A).
  assert.match(topic, /^devices\/.*\/messages\/devicebound\/.*$/);
  let out: OfficialMessage | undefined;
  const self = {
    _extractPropertiesFromTopicPart: Mqtt.prototype._extractPropertiesFromTopicPart,
    emit: (_: string, m: OfficialMessage) => (out = m),
  };
  Mqtt.prototype._onC2DMessage.call(self, topic, payload);
  return out!;
}
function props(m: OfficialMessage): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < m.properties.count(); i++) o[m.properties.getItem(i).key] = m.properties.getItem(i).value;
  return o;
}

describe('MQTT C2D delivery', () => {
  test('every system and application property survives the topic, as the official client decodes it', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    assert.deepEqual(await subscribe(client, 'dev1'), [1]);
    const expiry = Date.UTC(2026, 0, 1, 12, 30);
    const properties = {
      'my prop': 'a b&c=d/e',
      'plus+key': '1+1=2',
      'slash/name': 'x/y?z#',
      'ünï©ødé': '日本語 ✓ 😀',
      empty: '',
      '%41': '%20',
    };
    const body = Buffer.from([0, 1, 2, 255, 254, 0x0d, 0x0a]);
    await hub.engine.send('dev1', {
      messageId: 'mid 1/&=+',
      correlationId: 'corr=1&x',
      userId: 'user one',
      contentType: 'application/json; charset=utf-8',
      contentEncoding: 'utf-8',
      ack: 'full',
      expiryTimeUtc: expiry,
      properties,
      body,
    });
    const pub = await client.next('publish');
    assert.equal(pub.qos, 1);
    assert.equal(pub.dup, false);
    assert.equal(pub.retain, false);
    assert.ok(pub.topic.startsWith('devices/dev1/messages/devicebound/%24.mid='), pub.topic);
    assert.equal(pub.topic.split('/').length, 5, 'no raw / inside the bag');
    const m = officialDecode(pub.topic, pub.payload as Buffer);
    assert.equal(m.messageId, 'mid 1/&=+');
    assert.equal(m.to, '/devices/dev1/messages/devicebound');
    assert.equal(m.expiryTimeUtc, '2026-01-01T12:30:00.000Z');
    assert.equal(m.correlationId, 'corr=1&x');
    assert.equal(m.userId, 'user one');
    assert.equal(m.contentType, 'application/json; charset=utf-8');
    assert.equal(m.contentEncoding, 'utf-8');
    assert.deepEqual(props(m), { 'iothub-ack': 'full', ...properties });
    assert.deepEqual(m.data, body);
  });

  test('the bag keeps the documented key order, and the topic keeps its trailing slash', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    await hub.engine.send('dev1', { expiryTimeUtc: Date.UTC(2026, 0, 2), body: Buffer.alloc(0) });
    const pub = await client.next('publish');
    assert.equal(
      pub.topic,
      'devices/dev1/messages/devicebound/%24.to=%2Fdevices%2Fdev1%2Fmessages%2Fdevicebound&%24.exp=2026-01-02T00%3A00%3A00.000Z',
    );
    await hub.engine.send('dev1', {
      messageId: 'm',
      correlationId: 'c',
      userId: 'u',
      contentType: 't',
      contentEncoding: 'e',
      ack: 'positive',
      expiryTimeUtc: Date.UTC(2026, 0, 2),
      properties: { z: '1', a: '2' },
      body: Buffer.alloc(0),
    });
    const keys = (await client.next('publish')).topic
      .split('/')[4]!
      .split('&')
      .map((kv) => decodeURIComponent(kv.split('=')[0]!));
    assert.deepEqual(keys, ['$.mid', '$.to', '$.exp', '$.cid', '$.uid', '$.ct', '$.ce', 'iothub-ack', 'z', 'a']);
  });

  test('PUBACKs complete the messages in order', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    for (const id of ['m1', 'm2', 'm3']) await hub.engine.send('dev1', { messageId: id, body: Buffer.from(id) });
    const pubs: IPublishPacket[] = [];
    for (let i = 0; i < 3; i++) pubs.push(await client.next('publish'));
    assert.deepEqual(
      pubs.map((p) => (p.payload as Buffer).toString()),
      ['m1', 'm2', 'm3'],
    );
    assert.equal(new Set(pubs.map((p) => p.messageId)).size, 3);
    for (const p of pubs) client.send({ cmd: 'puback', messageId: p.messageId! });
    await until(() => hub.engine.completed.length === 3, 'three completions');
    assert.deepEqual(
      hub.engine.completed.map((c) => c.messageId),
      ['m1', 'm2', 'm3'],
    );
    assert.equal(await hub.engine.queueDepth('dev1'), 0);
  });

  test('no more than mqtt.maxInflight publishes wait for their PUBACK', async () => {
    const hub = await startTestHub({ mqtt: { maxInflight: 2 } });
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    for (let i = 1; i <= 5; i++) await hub.engine.send('dev1', { messageId: `m${i}`, body: Buffer.alloc(1) });
    const a = await client.next('publish');
    const b = await client.next('publish');
    await settle();
    assert.equal(client.packets.filter((p) => p.cmd === 'publish').length, 0);
    client.send({ cmd: 'puback', messageId: a.messageId! });
    const c = await client.next('publish');
    assert.deepEqual(
      [a, b, c].map((p) => officialDecode(p.topic, p.payload as Buffer).messageId),
      ['m1', 'm2', 'm3'],
    );
    await settle();
    assert.equal(client.packets.filter((p) => p.cmd === 'publish').length, 0);
  });

  test('a backlog is leased in half windows: one PUBACK alone does not lease the next message', async () => {
    const hub = await startTestHub({ mqtt: { maxInflight: 4 } });
    const key = await hub.device('dev1');
    for (let i = 1; i <= 8; i++) await hub.engine.send('dev1', { messageId: `m${i}`, body: Buffer.alloc(1) });
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    const first: IPublishPacket[] = [];
    for (let i = 0; i < 4; i++) first.push(await client.next('publish'));
    client.send({ cmd: 'puback', messageId: first[0]!.messageId! });
    await until(() => hub.engine.completed.length === 1, 'the first completion');
    await settle();
    assert.equal(client.packets.filter((p) => p.cmd === 'publish').length, 0, 'nothing leased for one free slot');
    client.send({ cmd: 'puback', messageId: first[1]!.messageId! });
    const next = [await client.next('publish'), await client.next('publish')];
    assert.deepEqual(
      [...first, ...next].map((p) => officialDecode(p.topic, p.payload as Buffer).messageId),
      ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'],
    );
    // The rest follows as the window frees: nothing is left behind.
    for (const p of [first[2]!, first[3]!, ...next]) client.send({ cmd: 'puback', messageId: p.messageId! });
    const last = [await client.next('publish'), await client.next('publish')];
    for (const p of last) client.send({ cmd: 'puback', messageId: p.messageId! });
    await until(() => hub.engine.completed.length === 8, 'all eight completed');
    assert.equal(await hub.engine.queueDepth('dev1'), 0);
  });

  test('a PUBACK for an unknown packet id is ignored', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    const pub = await client.next('publish');
    client.send({ cmd: 'puback', messageId: pub.messageId! + 100 });
    client.send({ cmd: 'pingreq' });
    await client.next('pingresp');
    assert.deepEqual(hub.engine.completed, []);
    client.send({ cmd: 'puback', messageId: pub.messageId! });
    await until(() => hub.engine.completed.length === 1, 'completion');
  });

  test('a QoS 0 subscription gets QoS 0 publishes, completed as soon as they are sent', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    assert.deepEqual(await subscribe(client, 'dev1', 0), [0]);
    for (const id of ['m1', 'm2']) await hub.engine.send('dev1', { messageId: id, body: Buffer.alloc(1) });
    const p1 = await client.next('publish');
    const p2 = await client.next('publish');
    assert.equal(p1.qos, 0);
    assert.equal(p2.qos, 0);
    assert.equal(p1.dup, false);
    await until(() => hub.engine.completed.length === 2, 'completions');
    assert.deepEqual(
      hub.engine.completed.map((c) => c.messageId),
      ['m1', 'm2'],
    );
  });

  test('a delivery not acknowledged within its lock is published again with DUP', async () => {
    const hub = await startTestHub({ lockTimeoutMs: 30_000 });
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key, { keepalive: 0 });
    await subscribe(client, 'dev1');
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.from('x') });
    const first = await client.next('publish');
    assert.equal(first.dup, false);
    hub.clock.advance(29_999);
    await settle();
    assert.equal(client.packets.filter((p) => p.cmd === 'publish').length, 0);
    hub.clock.advance(1);
    const again = await client.next('publish');
    assert.equal(again.dup, true);
    assert.equal(officialDecode(again.topic, again.payload as Buffer).messageId, 'm1');
    // The late PUBACK of the first publish no longer holds a lock: ignored.
    if (again.messageId !== first.messageId) client.send({ cmd: 'puback', messageId: first.messageId! });
    client.send({ cmd: 'puback', messageId: again.messageId! });
    await until(() => hub.engine.completed.length === 1, 'completion');
    assert.equal(await hub.engine.queueDepth('dev1'), 0);
  });

  test('a message the topic cannot carry is rejected and does not block the queue', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    // 30 KB of three-byte characters: a valid message, but 90 KB once percent-encoded in a topic.
    await hub.engine.send('dev1', { messageId: 'bad', properties: { p: '日'.repeat(10_000) }, body: Buffer.alloc(1) });
    await hub.engine.send('dev1', { messageId: 'good', body: Buffer.alloc(1) });
    const pub = await client.next('publish');
    assert.equal(officialDecode(pub.topic, pub.payload as Buffer).messageId, 'good');
    await until(() => hub.engine.rejected.length === 1, 'the rejection');
    assert.deepEqual(
      hub.engine.rejected.map((r) => r.messageId),
      ['bad'],
    );
  });

  test('nothing is delivered before SUBSCRIBE, and UNSUBSCRIBE stops delivery', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    await settle();
    assert.equal(client.packets.length, 0);
    await subscribe(client, 'dev1');
    const p1 = await client.next('publish');
    client.send({ cmd: 'puback', messageId: p1.messageId! });
    client.send({ cmd: 'unsubscribe', messageId: 7, unsubscriptions: [c2dFilter('dev1')] });
    assert.equal((await client.next('unsuback')).messageId, 7);
    await hub.engine.send('dev1', { messageId: 'm2', body: Buffer.alloc(1) });
    await settle();
    assert.equal(client.packets.filter((p) => p.cmd === 'publish').length, 0);
    assert.equal(await hub.engine.queueDepth('dev1'), 1);
    assert.equal(hub.engine.listenerCount('dev1'), 0);
  });

  test('hub shutdown returns in-flight messages to the queue', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    await client.next('publish');
    await hub.gateway.close();
    await client.waitClosed();
    assert.equal(hub.engine.released.length, 1);
    assert.equal(hub.gateway.connectionCount, 0);
    // A closed gateway takes no new connections.
    const late = hub.open();
    await late.waitClosed();
  });
});

describe('MQTT SUBSCRIBE rules', () => {
  test("only the device's own C2D topic is granted; QoS 2 is granted as 1; others get 0x80", async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    client.send({
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [
        { topic: c2dFilter('dev2'), qos: 1 },
        { topic: 'devices/dev1/messages/events/', qos: 1 },
        { topic: '#', qos: 0 },
        { topic: '$iothub/twin/res/#', qos: 0 },
        { topic: c2dFilter('dev1'), qos: 2 },
      ],
    });
    const suback = await client.next('suback');
    assert.equal(suback.messageId, 3);
    assert.deepEqual(suback.granted, [0x80, 0x80, 0x80, 0x80, 1]);
    // Refusals do not close the connection.
    client.send({ cmd: 'pingreq' });
    await client.next('pingresp');
  });

  test('a refused subscription to another device receives nothing of it', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    await hub.device('dev2');
    const { client } = await hub.connect('dev1', key);
    assert.deepEqual(await subscribe(client, 'dev2'), [0x80]);
    await hub.engine.send('dev2', { messageId: 'secret', body: Buffer.alloc(1) });
    await settle();
    assert.equal(client.packets.length, 0);
    assert.equal(await hub.engine.queueDepth('dev2'), 1);
  });

  test('filters beyond mqtt.maxSubscriptions are refused', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    const subscriptions = [1, 2, 3, 4, 5].map((i) => ({ topic: `x/${i}`, qos: 1 as const }));
    client.send({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [...subscriptions, { topic: c2dFilter('dev1'), qos: 1 }],
    });
    assert.deepEqual((await client.next('suback')).granted, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80]);
  });
});
