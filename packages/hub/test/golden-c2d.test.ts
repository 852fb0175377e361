/**
 * Golden vectors: the bytes a device receives for a C2D message, checked byte for byte, so a
 * faster encoder cannot drift. MQTT: the whole PUBLISH packet (fixed header, topic with the
 * property bag, packet id, payload) as the gateway writes it. AMQP: the whole transfer frame on a
 * device link (performative + the device-bound message), with the random lock token (the delivery
 * tag) masked. The vectors were taken from the encoders before they were optimised (mqtt-packet's
 * generate over c2dTopic, rhea's message encoder over encodeDelivery), and each test also decodes
 * them with the client's own decoder, so a vector is checked, not only frozen.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { type Delivery, encodePropertyBag } from '@ferry/common';
import { generate } from 'mqtt-packet';
import rhea from 'rhea';
import { C2dTopicWriter, c2dPropertyBag, c2dPublishPacket } from '../src/gateways/mqtt/topic.js';
import { bodyOf, c2d, Inbox, startAmqpHarness } from './amqp-harness.js';
import { startTestHub, subscribe, until } from './mqtt-helpers.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const EXPIRY = Date.UTC(2026, 0, 1, 12, 30);
const RICH = {
  messageId: 'mid 1/&=+',
  correlationId: 'corr=1&x',
  userId: 'user one',
  contentType: 'application/json; charset=utf-8',
  contentEncoding: 'utf-8',
  ack: 'full' as const,
  expiryTimeUtc: EXPIRY,
  properties: { 'my prop': 'a b&c=d/e', 'ünï©ødé': '日本語 ✓ 😀', empty: '' },
  body: Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a]),
};

/** PUBLISH QoS 1, packet id 1: topic `devices/golden/messages/devicebound/{bag}`, then the payload. */
const MQTT_RICH = hex(`
  3292030187646576696365732f676f6c64656e2f6d657373616765732f646576696365626f756e642f2532342e6d69643d6d
  696425323031253246253236253344253242262532342e746f3d25324664657669636573253246676f6c64656e2532466d65
  737361676573253246646576696365626f756e64262532342e6578703d323032362d30312d30315431322533413330253341
  30302e3030305a262532342e6369643d636f72722533443125323678262532342e7569643d757365722532306f6e65262532
  342e63743d6170706c69636174696f6e2532466a736f6e253342253230636861727365742533447574662d38262532342e63
  653d7574662d3826696f746875622d61636b3d66756c6c266d7925323070726f703d61253230622532366325334464253246
  65262543332542436e254333254146254332254139254333254238642543332541393d254536253937254135254536253943
  25414325453825414125394525323025453225394325393325323025463025394625393825383026656d7074793d00010001
  02fffe0d0a`);

/** SUBACK (packet id 9, QoS 1), then PUBLISH QoS 1 DUP, packet id 1: a bag of `$.to` alone (no expiry or ack was set), body `hi`. */
/**
 * Transfer frame: frame header (size, doff 2, type 0, channel 0), transfer performative (handle 2,
 * delivery-id 1, delivery-tag = the 16 bytes of the lock token, masked here as zeros, format 0,
 * settled false, more false), then the message: header, message annotations (enqueued time, sequence number
 * 1, delivery count 0), properties, application properties, one data section.
 */
const AMQP_RICH = hex(`
  0000017902000000005314d00000001d0000000652025201a010 00000000000000000000000000000000 434242
  00537045005372d10000005300000006a313696f746875622d656e71756575656474696d65830000019b76daa800a315782d
  6f70742d73657175656e63652d6e756d6265725501a314696f746875622d64656c6976657279636f756e745400005373d000
  00007c00000009a1096d696420312f263d2ba00875736572206f6e65a1242f646576696365732f676f6c64656e2f6d657373
  616765732f646576696365426f756e644040a108636f72723d312678a31f6170706c69636174696f6e2f6a736f6e3b206368
  61727365743d7574662d38a3057574662d38830000019b79894d40005374d10000005500000008a1076d792070726f70a109
  61206226633d642f65a10cc3bc6ec3afc2a9c3b864c3a9a112e697a5e69cace8aa9e20e29c9320f09f9880a105656d707479
  a100a10a696f746875622d61636ba10466756c6c005375a007000102fffe0d0a`);

const MQTT_SUBACK_THEN_DUP = hex(`
  90030009013a5d0057646576696365732f676f6c64656e2f6d657373616765732f646576696365626f756e642f2532342e74
  6f3d25324664657669636573253246676f6c64656e2532466d65737361676573253246646576696365626f756e6400016869`);

describe('C2D golden vectors', () => {
  test('MQTT: the whole PUBLISH of a message with every property, byte for byte', async () => {
    const hub = await startTestHub();
    const key = await hub.device('golden');
    const { client } = await hub.connect('golden', key);
    await subscribe(client, 'golden');
    const before = Buffer.concat(client.received).length;
    await hub.engine.send('golden', RICH);
    const pub = await client.next('publish');
    assert.equal(Buffer.concat(client.received).subarray(before).toString('hex'), MQTT_RICH.toString('hex'));
    // The vector is what a client decodes into the message sent.
    assert.equal(pub.messageId, 1);
    assert.deepEqual(pub.payload, RICH.body);
    const bag = new Map(
      pub.topic
        .split('/')[4]!
        .split('&')
        .map((kv) => kv.split('=').map(decodeURIComponent) as [string, string]),
    );
    assert.equal(bag.get('$.mid'), RICH.messageId);
    assert.equal(bag.get('ünï©ødé'), '日本語 ✓ 😀');
  });

  test('MQTT: a redelivery carries DUP and a minimal bag, byte for byte', async () => {
    const hub = await startTestHub();
    const key = await hub.device('golden');
    let { client } = await hub.connect('golden', key);
    await subscribe(client, 'golden');
    await hub.engine.send('golden', { body: Buffer.from('hi') });
    await client.next('publish');
    client.end();
    await client.waitClosed();
    await until(() => hub.engine.released.length === 1, 'the release');
    ({ client } = await hub.connect('golden', key));
    const before = Buffer.concat(client.received).length;
    await subscribe(client, 'golden', 1, 9);
    const pub = await client.next('publish');
    assert.equal(pub.dup, true);
    assert.deepEqual(pub.payload, Buffer.from('hi'));
    assert.equal(Buffer.concat(client.received).subarray(before).toString('hex'), MQTT_SUBACK_THEN_DUP.toString('hex'));
  });

  test('MQTT: the direct PUBLISH encoder writes what the property bag and mqtt-packet write', () => {
    const base: Delivery = {
      ...RICH,
      deviceId: 'd',
      sequenceNumber: 7,
      enqueuedTimeUtc: EXPIRY - 1000,
      deliveryCount: 0,
      lockToken: '00000000-0000-0000-0000-000000000000',
      lockedUntil: EXPIRY,
      redelivered: false,
    };
    const minimal: Delivery = { ...base, properties: {} };
    for (const k of ['messageId', 'correlationId', 'userId', 'contentType', 'contentEncoding'] as const)
      delete minimal[k];
    const cases: Array<[Delivery, number]> = [
      [base, 10],
      [minimal, 0],
      [{ ...base, body: Buffer.alloc(20_000, 1) }, 300],
      [{ ...base, properties: { big: 'x'.repeat(60_000) }, body: Buffer.alloc(2_100_000, 2) }, 65_535],
    ];
    for (const [d, packetId] of cases) {
      const topic = new C2dTopicWriter('dev-1').topic(d);
      assert.equal(topic, `devices/dev-1/messages/devicebound/${encodePropertyBag(c2dPropertyBag('dev-1', d))}`);
      for (const [qos, dup] of [
        [1, false],
        [1, true],
        [0, false],
      ] as const) {
        const reference = generate({
          cmd: 'publish',
          qos,
          dup,
          retain: false,
          messageId: packetId,
          topic,
          payload: d.body,
        });
        assert.ok(
          c2dPublishPacket(topic, d.body, qos, dup, packetId).equals(reference),
          `${topic.length} ${qos} ${dup}`,
        );
      }
    }
    assert.throws(() => new C2dTopicWriter('d').topic({ ...base, properties: { '': 'x' } }), /Property name is empty/);
    assert.throws(() => new C2dTopicWriter('d').topic({ ...base, messageId: '\ud800' }), /not valid Unicode/);
    assert.throws(() => c2dPublishPacket('t'.repeat(65_536), Buffer.alloc(0), 1, false, 1), /longer than 65535/);
  });

  test('AMQP: the whole transfer of a message with every property, byte for byte (tag masked)', async () => {
    const h = await startAmqpHarness({ clockStart: Date.UTC(2026, 0, 1) });
    try {
      await h.createDevice('golden');
      const svc = await h.connect();
      assert.equal((await svc.putToken(h.serviceToken())).status, 200);
      const sender = (await svc.attachSender('/messages/devicebound')).link;
      const outcome = await svc.send(
        sender,
        c2d('golden', '', {
          body: rhea.message.data_section(RICH.body),
          message_id: RICH.messageId,
          correlation_id: RICH.correlationId,
          user_id: Buffer.from(RICH.userId) as unknown as string,
          content_type: RICH.contentType,
          content_encoding: RICH.contentEncoding,
          absolute_expiry_time: EXPIRY as unknown as Date,
          application_properties: { 'iothub-ack': 'full', ...RICH.properties },
        }),
      );
      assert.equal(outcome.state, 'accepted');
      const dev = await h.connect();
      const written: Buffer[] = [];
      const socket = [...h.sockets].at(-1) as Socket;
      const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
      socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
        written.push(Buffer.from(chunk));
        return write(chunk, ...rest);
      }) as typeof socket.write;
      assert.equal((await dev.putToken(await h.deviceToken('golden'))).status, 200);
      const r = await dev.attachReceiver('/devices/golden/messages/devicebound');
      const inbox = new Inbox(r.link);
      const { message, delivery } = await inbox.nth(0);
      assert.deepEqual(bodyOf(message), RICH.body);
      const tag = delivery.tag as Buffer;
      // The CBS reply is a transfer too; the device's is the one tagged with the lock token.
      const frames = transferFrames(Buffer.concat(written)).filter((f) => f.includes(tag));
      assert.equal(frames.length, 1);
      assert.equal(tag.length, 16);
      const masked = Buffer.from(frames[0]!);
      masked.fill(0, masked.indexOf(tag), masked.indexOf(tag) + 16);
      assert.equal(masked.toString('hex'), AMQP_RICH.toString('hex'));
      assert.equal(message.message_id, RICH.messageId);
      assert.deepEqual(message.application_properties, { ...RICH.properties, 'iothub-ack': 'full' });
    } finally {
      await h.close();
    }
  });
});

/** The transfer frames (performative 0x14) in a stream of AMQP frames that starts at a frame boundary. */
function transferFrames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    const size = bytes.readUInt32BE(at);
    const body = at + bytes[at + 4]! * 4;
    // Performative: described list, 0x00 0x53 <code>.
    if (bytes[body] === 0x00 && bytes[body + 1] === 0x53 && bytes[body + 2] === 0x14) {
      out.push(bytes.subarray(at, at + size));
    }
    at += size;
  }
  return out;
}
