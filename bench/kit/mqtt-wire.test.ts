/**
 * The load side's hand-made MQTT frames (mqtt-wire.ts) against mqtt-packet: a templated PUBLISH
 * parses as the PUBLISH mqtt-packet would make, and the frame reader cuts the same frames out of
 * a stream however it is split into chunks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generate, type IPublishPacket, parser } from 'mqtt-packet';
import {
  DISCONNECT,
  encodeConnect,
  encodePublish,
  encodeSubscribe,
  FrameReader,
  PUBACK,
  PUBLISH,
  PublishTemplate,
  writePuback,
} from './mqtt-wire.js';

function parseAll(bytes: Buffer) {
  const out: Array<{ cmd: string; messageId?: number; topic?: string; payload?: Buffer }> = [];
  const p = parser({ protocolVersion: 4 });
  p.on('packet', (packet) => out.push(packet as IPublishPacket & { payload: Buffer }));
  p.parse(bytes);
  return out;
}

test('a templated PUBLISH is the QoS 1 PUBLISH mqtt-packet makes, stamped and with its text in place', () => {
  const t = new PublishTemplate('devices/d-1/messages/devicebound/%24.mid=####&x=1', 64);
  const out = Buffer.alloc(t.length + 3, 0xee);
  t.write(out, 3, 0x1234, 70_000, 'm-42');
  const [packet] = parseAll(out.subarray(3));
  assert.equal(packet?.cmd, 'publish');
  assert.equal(packet?.messageId, 0x1234);
  assert.equal(packet?.topic, 'devices/d-1/messages/devicebound/%24.mid=m-42&x=1');
  const body = packet!.payload!;
  assert.equal(body.length, 64);
  assert.equal(body.readUInt32BE(8), 70_000);
  assert.ok(Number(process.hrtime.bigint() - body.readBigUInt64BE(0)) < 5e9);
  assert.equal(body.subarray(12).toString(), 'x'.repeat(52));
  // The bytes mqtt-packet generates for the same packet.
  const same = generate({
    cmd: 'publish',
    qos: 1,
    dup: false,
    retain: false,
    messageId: 0x1234,
    topic: packet!.topic!,
    payload: body,
  });
  assert.deepEqual(out.subarray(3), same);
  // A body long enough for a two-byte remaining length.
  const long = new PublishTemplate('t', 300);
  const big = Buffer.alloc(long.length);
  long.write(big, 0, 1, 1);
  assert.equal(parseAll(big)[0]?.payload?.length, 300);
});

test('writePuback writes the PUBACK mqtt-packet makes', () => {
  const out = Buffer.alloc(4);
  writePuback(out, 0, 0xbeef);
  assert.deepEqual(out, generate({ cmd: 'puback', messageId: 0xbeef }));
});

test('the frame reader cuts the same frames however the stream is split', () => {
  const t = new PublishTemplate('devices/a/messages/events/', 200);
  const publish = Buffer.alloc(t.length);
  t.write(publish, 0, 7, 9);
  const stream = Buffer.concat([
    generate({ cmd: 'connack', returnCode: 0, sessionPresent: true }),
    publish,
    generate({ cmd: 'puback', messageId: 3 }),
    generate({ cmd: 'suback', messageId: 4, granted: [1] }),
  ]);
  const frames = (chunks: Buffer[]) => {
    const seen: string[] = [];
    const reader = new FrameReader((header, buf, start, end) => {
      const type = header >> 4;
      if (type === PUBLISH) seen.push(`publish ${buf.readUInt32BE(end - 200 + 8)} ${end - start}`);
      else if (type === PUBACK) seen.push(`puback ${buf.readUInt16BE(start)}`);
      else seen.push(`type ${type} ${buf.subarray(start, end).toString('hex')}`);
    });
    for (const c of chunks) reader.push(c);
    return seen;
  };
  const whole = frames([stream]);
  assert.deepEqual(whole, ['type 2 0100', `publish 9 ${publish.length - 3}`, 'puback 3', 'type 9 000401']);
  for (let cut = 1; cut < stream.length; cut++) {
    assert.deepEqual(frames([stream.subarray(0, cut), stream.subarray(cut)]), whole, `cut at ${cut}`);
  }
  assert.deepEqual(frames([...stream].map((b) => Buffer.from([b]))), whole);
});

test('CONNECT, SUBSCRIBE, a one-off PUBLISH and DISCONNECT are the bytes mqtt-packet makes', () => {
  const base = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4 } as const;
  assert.deepEqual(
    encodeConnect({ clientId: 'peer-1', clean: false, keepalive: 1177 }),
    generate({ ...base, clientId: 'peer-1', clean: false, keepalive: 1177 }),
  );
  const password = `SharedAccessSignature sr=${'x'.repeat(200)}`;
  assert.deepEqual(
    encodeConnect({ clientId: 'd', clean: true, keepalive: 240, username: 'h/d/?api-version=2021-04-12', password }),
    generate({
      ...base,
      clientId: 'd',
      clean: true,
      keepalive: 240,
      username: 'h/d/?api-version=2021-04-12',
      password: Buffer.from(password),
    }),
  );
  assert.deepEqual(
    encodeSubscribe(9, 'devices/d/messages/devicebound/#', 1),
    generate({
      cmd: 'subscribe',
      messageId: 9,
      subscriptions: [{ topic: 'devices/d/messages/devicebound/#', qos: 1 }],
    }),
  );
  const payload = Buffer.from('hello');
  assert.deepEqual(
    encodePublish(300, 'a/b', payload),
    generate({ cmd: 'publish', qos: 1, dup: false, retain: false, messageId: 300, topic: 'a/b', payload }),
  );
  assert.deepEqual(DISCONNECT, generate({ cmd: 'disconnect' }));
});
