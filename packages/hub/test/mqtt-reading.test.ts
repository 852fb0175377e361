/**
 * How the MQTT connection reads: only as far as its queue of unhandled packets has room, and
 * whole PUBACKs past the parser, wherever the chunk boundaries fall.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generate, type Packet } from 'mqtt-packet';
import type { Principal } from '../src/auth/types.js';
import { duplexPair, HOST, RawClient, settle, startTestHub, subscribe, until } from './mqtt-helpers.js';

test('packets behind a slow CONNECT stay in the stream, not in the hub, and are all handled after it', async () => {
  const hub = await startTestHub();
  const key = await hub.device('dev1');
  // Hold CONNECT in authentication until the test lets it through.
  const auth = hub.ctx.auth;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  hub.ctx.auth = {
    ...auth,
    can: auth.can.bind(auth),
    authorize: auth.authorize.bind(auth),
    authenticate: async (token: string): Promise<Principal> => {
      await gate;
      return auth.authenticate(token);
    },
  };
  const [server, device] = duplexPair();
  hub.gateway.handle(server, { remoteAddress: '127.0.0.1', transport: 'memory' });
  const client = new RawClient(device);
  client.send({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: 'dev1',
    clean: true,
    keepalive: 0,
    username: `${HOST}/dev1/?api-version=2021-04-12`,
    password: Buffer.from(hub.token('dev1', key)),
  });
  // One chunk at a time, as a socket delivers them (each read takes what has arrived).
  const pings = 500;
  for (let i = 0; i < pings; i++) {
    client.send({ cmd: 'pingreq' });
    await new Promise<void>((r) => setImmediate(r));
  }
  await settle();
  // The hub took a bounded number of them; the rest wait unread in the stream.
  assert.ok(server.readableLength > 0, 'reading stopped while CONNECT is pending');
  assert.ok(server.readableLength >= (pings - 100) * 2, `${server.readableLength} bytes left unread`);
  assert.equal(client.packets.length, 0);
  release();
  assert.equal((await client.next('connack')).returnCode, 0);
  for (let i = 0; i < pings; i++) await client.next('pingresp');
  assert.equal(server.readableLength, 0);
  client.end();
});

test('PUBACKs complete in order however they are cut into chunks, mixed with other packets', async () => {
  const hub = await startTestHub();
  const key = await hub.device('dev1');
  const { client } = await hub.connect('dev1', key);
  await subscribe(client, 'dev1');
  for (const id of ['m1', 'm2', 'm3', 'm4']) await hub.engine.send('dev1', { messageId: id, body: Buffer.from(id) });
  const ids: number[] = [];
  for (let i = 0; i < 4; i++) ids.push((await client.next('publish')).messageId!);
  const puback = (id: number) => Buffer.from([0x40, 0x02, id >> 8, id & 0xff]);
  const first = puback(ids[0]!);
  // Half a PUBACK; the rest with a PINGREQ and two whole PUBACKs; then one more alone.
  client.writeRaw(first.subarray(0, 3));
  await settle();
  assert.equal(hub.engine.completed.length, 0);
  client.writeRaw(Buffer.concat([first.subarray(3), Buffer.from([0xc0, 0x00]), puback(ids[1]!), puback(ids[2]!)]));
  await client.next('pingresp');
  client.writeRaw(puback(ids[3]!));
  await until(() => hub.engine.completed.length === 4, 'four completions');
  assert.deepEqual(
    hub.engine.completed.map((c) => c.messageId),
    ['m1', 'm2', 'm3', 'm4'],
  );
});

test('a packet cut after its first byte is read whole: a payload that starts like a PUBACK is not taken for one', async () => {
  const hub = await startTestHub();
  const key = await hub.device('dev1');
  const { client } = await hub.connect('dev1', key);
  // A SUBSCRIBE whose remaining length is 0x40 and whose packet id starts with 0x02: after the
  // first byte, the rest begins 40 02 nn 00, a PUBACK's shape.
  const topic = `devices/dev1/messages/devicebound/${'x'.repeat(25)}`;
  const bytes = Buffer.from(
    generate({ cmd: 'subscribe', messageId: 0x0207, subscriptions: [{ topic, qos: 1 }] } as Packet),
  );
  assert.deepEqual([...bytes.subarray(0, 3)], [0x82, 0x40, 0x02]);
  client.writeRaw(bytes.subarray(0, 1));
  await settle();
  client.writeRaw(bytes.subarray(1));
  assert.equal((await client.next('suback')).messageId, 0x0207);
  client.send({ cmd: 'pingreq' });
  await client.next('pingresp');
  assert.equal(hub.engine.completed.length, 0);
});
