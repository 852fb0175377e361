import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generate, parser as mqttParser, type Packet } from 'mqtt-packet';
import { HOST, settle, startTestHub, subscribe, type TestHub, until } from './mqtt-helpers.js';

/** Deterministic PRNG (mulberry32): failures reproduce. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function connectPacket(hub: TestHub, deviceId: string, key: string): Packet {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: deviceId,
    clean: false,
    keepalive: 60,
    username: `${HOST}/${deviceId}/?api-version=2021-04-12`,
    password: Buffer.from(hub.token(deviceId, key)),
  };
}

/** The hub still serves a well-behaved device end to end. */
async function stillServes(hub: TestHub, key: string): Promise<void> {
  const { client, connack } = await hub.connect('dev1', key);
  assert.equal(connack.returnCode, 0);
  await subscribe(client, 'dev1');
  await hub.engine.send('dev1', { messageId: 'ok', body: Buffer.from('ok') });
  const p = await client.next('publish');
  client.send({ cmd: 'puback', messageId: p.messageId! });
  await until(() => hub.engine.completed.some((c) => c.messageId === 'ok'), 'completion');
  client.end();
  await client.waitClosed();
}

describe('MQTT bad input', () => {
  for (const qos of [0, 1] as const) {
    test(`a PUBLISH to another device's telemetry topic (QoS ${qos}) closes the connection`, async () => {
      const hub = await startTestHub();
      const key = await hub.device('dev1');
      const { client } = await hub.connect('dev1', key);
      client.send({
        cmd: 'publish',
        topic: 'devices/dev2/messages/events/',
        qos,
        dup: false,
        retain: false,
        payload: Buffer.from('t'),
        ...(qos ? { messageId: 1 } : {}),
      });
      await client.waitClosed();
      assert.equal(client.packets.filter((p) => p.cmd === 'puback').length, 0);
    });
  }

  test('a QoS 2 publish closes the connection', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    client.send({
      cmd: 'publish',
      topic: '$iothub/twin/GET/?$rid=1',
      qos: 2,
      dup: false,
      retain: false,
      messageId: 9,
      payload: Buffer.alloc(0),
    });
    await client.waitClosed();
    assert.equal(client.packets.filter((p) => p.cmd === 'pubrec').length, 0);
  });

  test('a packet the hub never accepts from a device (PUBREL) closes the connection', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    client.send({ cmd: 'pubrel', messageId: 1 });
    await client.waitClosed();
  });

  const malformed: Array<[string, Buffer]> = [
    ['SUBSCRIBE with reserved flags 0000', Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x01])],
    [
      'CONNECT with protocol name "MQTX"',
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x58, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]),
    ],
    ['PUBLISH with both QoS bits set', Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61])],
    ['a remaining length of five bytes', Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f])],
    ['packet type 0 (reserved)', Buffer.from([0x00, 0x00])],
  ];
  for (const [name, bytes] of malformed) {
    test(`malformed packet before CONNECT: ${name}`, async () => {
      const hub = await startTestHub();
      const key = await hub.device('dev1');
      const client = hub.open();
      client.writeRaw(bytes);
      await client.waitClosed();
      await stillServes(hub, key);
    });
  }

  test('malformed packet after CONNECT closes and releases in-flight messages', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    await client.next('publish');
    client.writeRaw(Buffer.from([0x82, 0x02, 0x00]));
    client.writeRaw(Buffer.from([0x01, 0xf0, 0x00])); // completes a SUBSCRIBE without topics: invalid
    await client.waitClosed();
    await until(() => hub.engine.released.length === 1, 'release');
  });

  test('a frame announcing more than the hub accepts is refused before it is buffered', async () => {
    const hub = await startTestHub();
    const client = hub.open();
    // PUBLISH with remaining length 1 MiB, then 400 KiB of it (past a 256 KB telemetry message and its topic).
    client.writeRaw(Buffer.from([0x30, 0x80, 0x80, 0x40]));
    for (let i = 0; i < 40 && !client.isClosed; i++) client.writeRaw(Buffer.alloc(10 * 1024));
    await client.waitClosed();
  });

  test('connections sending random bytes are all closed; the hub keeps serving', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const rnd = prng(42);
    const clients = [];
    for (let i = 0; i < 300; i++) {
      const c = hub.open();
      const n = 1 + Math.floor(rnd() * 64);
      c.writeRaw(Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256))));
      clients.push(c);
    }
    await settle();
    // Bytes that happen to start a long frame wait for more; the CONNECT timeout ends them.
    hub.clock.advance(30_000);
    await Promise.all(clients.map((c) => c.waitClosed()));
    await until(() => hub.gateway.connectionCount === 0, 'all connections forgotten');
    await stillServes(hub, key);
  });

  test('random bytes after a good CONNECT: the hub closes the connection, at once when they are malformed', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const rnd = prng(7);
    const keepalive = 60;
    const closedBy = { malformed: 0, keepAlive: 0, packet: 0 };
    for (let i = 0; i < 50; i++) {
      const { client } = await hub.connect('dev1', key, { keepalive });
      const garbage = Buffer.from(Array.from({ length: 32 }, () => Math.floor(rnd() * 256)));
      // What a correct MQTT parser makes of these bytes decides what the hub must do with them.
      let malformed = false;
      const reader = mqttParser({ protocolVersion: 4 });
      reader.on('error', () => (malformed = true));
      reader.parse(garbage);
      client.writeRaw(garbage);
      await settle(3);
      if (malformed) {
        // Only the hub can have closed it: the test never ends a connection here.
        assert.ok(client.isClosed, `connection ${i}: malformed bytes ${garbage.toString('hex')} left it open`);
        closedBy.malformed++;
      } else if (client.isClosed) {
        closedBy.packet++; // a well-formed packet the hub refuses (a second CONNECT, telemetry...)
      } else {
        // An unfinished frame, or packets the hub accepts: the keep-alive (1.5 x 60 s) ends it.
        hub.clock.advance(keepalive * 1500 + 1);
        await until(() => client.isClosed, `connection ${i} closed by the keep-alive`);
        closedBy.keepAlive++;
      }
    }
    // Both ways of closing were exercised (the byte stream is the same every run).
    assert.ok(closedBy.malformed > 0 && closedBy.keepAlive > 0, JSON.stringify(closedBy));
    await until(() => hub.gateway.connectionCount === 0, 'all connections forgotten');
    await stillServes(hub, key);
  });
});

describe('MQTT framing', () => {
  async function session(hub: TestHub, chunks: Buffer[]): Promise<Packet['cmd'][]> {
    const client = hub.open();
    for (const c of chunks) {
      client.writeRaw(c);
      await settle(2);
    }
    await client.next('pingresp');
    const cmds = client.packets.map((p) => p.cmd);
    client.end();
    await client.waitClosed();
    return ['pingresp', ...cmds].sort() as Packet['cmd'][];
  }

  test('packets split at every byte boundary, one byte at a time, or all in one chunk, give the same answers', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const bytes = Buffer.concat([
      generate(connectPacket(hub, 'dev1', key)),
      generate({
        cmd: 'subscribe',
        messageId: 5,
        subscriptions: [{ topic: 'devices/dev1/messages/devicebound/#', qos: 1 }],
      }),
      generate({ cmd: 'pingreq' }),
    ]);
    const expected = ['connack', 'pingresp', 'suback'];
    assert.deepEqual(await session(hub, [bytes]), expected);
    assert.deepEqual(
      await session(
        hub,
        [...bytes].map((b) => Buffer.from([b])),
      ),
      expected,
    );
    for (let i = 1; i < bytes.length; i++) {
      assert.deepEqual(await session(hub, [bytes.subarray(0, i), bytes.subarray(i)]), expected, `split at ${i}`);
    }
  });

  test('a PUBACK split across two writes completes its message', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.alloc(1) });
    const p = await client.next('publish');
    const puback = generate({ cmd: 'puback', messageId: p.messageId! });
    client.writeRaw(puback.subarray(0, 3));
    await settle(3);
    assert.equal(hub.engine.completed.length, 0);
    client.writeRaw(puback.subarray(3));
    await until(() => hub.engine.completed.length === 1, 'completion');
  });
});
