/**
 * Direct methods with input IoT Hub refuses or a device gets wrong, on a real hub process: bad
 * bodies and timeouts answered with IoT Hub's errors before any device is asked; every JSON shape
 * of payload delivered and answered exactly; a device answering late, twice, with a rid it was
 * never sent or with garbage is ignored (or fails only its own call), over MQTT and over AMQP
 * (rhea on the methods links, as the official client pairs them). After each, the device's
 * connection is still open and the next call goes through: the hub is unharmed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import rhea, { type Message } from 'rhea';
import { type HubProcess, startHub } from './harness.js';
import { amqpDeviceConnection } from './helpers/amqp-device.js';
import { assertHubError } from './helpers/hub-error.js';
import { Inbox } from './helpers/inbox.js';
import { rawInvoke, ridOf } from './helpers/methods.js';
import { withTimeout } from './helpers/wait.js';
import { connectSilent, type SilentClient } from './mqtt-helpers.js';

const T = { timeout: 60_000 };
const ID = 'method-bad';
let hub: HubProcess;
let dev: SilentClient;
let seen = 0;

before(async () => {
  hub = await startHub();
  const cs = await hub.createDevice(ID);
  dev = await connectSilent(hub, cs, { clean: true });
  await dev.mqtt.subscribeAsync('$iothub/methods/POST/#', { qos: 0 });
});

after(async () => {
  await dev?.end();
  await hub?.stop();
});

const call = (body: unknown) => rawInvoke(hub, ID, body);

/** The next method request the device receives: its rid and its payload as text. */
async function nextRequest(): Promise<{ rid: string; name: string; payload: string }> {
  const p = await dev.nth(++seen);
  const name = /^\$iothub\/methods\/POST\/([^/]+)\//.exec(p.topic)?.[1] ?? '';
  return { rid: ridOf(p.topic), name, payload: p.payload.toString() };
}

function answer(rid: string, status: number | string, body: string): void {
  dev.mqtt.publish(`$iothub/methods/res/${status}/?$rid=${rid}`, body, { qos: 0 });
}

/** A call the device answers at once: proves the hub and the device's connection still work. */
async function stillWorks(): Promise<void> {
  const pending = call({ methodName: 'ping', payload: 1, responseTimeoutInSeconds: 20 });
  const req = await nextRequest();
  answer(req.rid, 200, '"pong"');
  const res = await pending;
  assert.equal(res.status, 200, res.body.toString());
  assert.deepEqual(JSON.parse(res.body.toString()), { status: 200, payload: 'pong' });
  assert.equal(dev.mqtt.connected, true);
}

test('bad bodies and timeouts: IoT Hub errors, and no device is asked', T, async () => {
  const m = { methodName: 'm' };
  const cases: Array<[unknown, number, string, string]> = [
    ['"just a string"', 400, 'ArgumentInvalid', 'a JSON string body'],
    ['null', 400, 'ArgumentInvalid', 'a JSON null body'],
    ['', 400, 'ArgumentInvalid', 'an empty body'],
    [{ methodName: 5 }, 400, 'ArgumentInvalid', 'a number as name'],
    [{ methodName: ['m'] }, 400, 'ArgumentInvalid', 'an array as name'],
    [{ methodName: '' }, 400, 'ArgumentNull', 'an empty name'],
    [{ methodName: 'x'.repeat(129) }, 400, 'ArgumentInvalid', 'a name over 128 characters'],
    [{ methodName: 'é' }, 400, 'ArgumentInvalid', 'a name not US-ASCII'],
    [{ ...m, responseTimeoutInSeconds: -1 }, 400, 'ArgumentInvalid', 'a negative response timeout'],
    [{ ...m, responseTimeoutInSeconds: 5.5 }, 400, 'ArgumentInvalid', 'a fractional response timeout'],
    [{ ...m, responseTimeoutInSeconds: true }, 400, 'ArgumentInvalid', 'a boolean response timeout'],
    [{ ...m, responseTimeoutInSeconds: '30' }, 400, 'ArgumentInvalid', 'a string response timeout'],
    [{ ...m, responseTimeoutInSeconds: { s: 30 } }, 400, 'ArgumentInvalid', 'an object response timeout'],
    [{ ...m, responseTimeoutInSeconds: 1e9 }, 400, 'ArgumentInvalid', 'a response timeout beyond 300'],
    [{ ...m, connectTimeoutInSeconds: 301 }, 400, 'ArgumentInvalid', 'a connect timeout beyond 300'],
    [{ ...m, connectTimeoutInSeconds: 0.5 }, 400, 'ArgumentInvalid', 'a fractional connect timeout'],
    [{ ...m, payload: { big: 'x'.repeat(128 * 1024) } }, 413, 'MessageTooLarge', 'a payload over 128 KB'],
  ];
  for (const [body, status, code, what] of cases) assertHubError(await call(body), status, code, what);
  assert.equal(dev.publishes.length, seen, 'the device was asked nothing');
  await stillWorks();
});

test('unknown fields are ignored and every JSON shape of payload arrives and comes back exactly', T, async () => {
  const shapes: unknown[] = [
    0,
    -1.5e-7,
    false,
    null,
    '',
    'ü\u2028"\\',
    [],
    [1, [2, [3]], { a: null }],
    { deep: { a: [{}] } },
  ];
  for (const payload of shapes) {
    const pending = call({ methodName: 'shape', payload, responseTimeoutInSeconds: 20, unknownField: { x: 1 } });
    const req = await nextRequest();
    assert.equal(req.name, 'shape');
    assert.deepEqual(JSON.parse(req.payload), payload);
    answer(req.rid, 200, req.payload);
    const res = await pending;
    assert.equal(res.status, 200, res.body.toString());
    assert.deepEqual(JSON.parse(res.body.toString()), { status: 200, payload });
  }
  // No payload at all: the device gets null.
  const pending = call({ methodName: 'none' });
  const req = await nextRequest();
  assert.equal(req.payload, 'null');
  answer(req.rid, 200, '');
  assert.deepEqual(JSON.parse((await pending).body.toString()), { status: 200, payload: null });
});

test(
  'a late answer (after GatewayTimeout), twice, an unknown rid and garbage: ignored, the hub unharmed',
  T,
  async () => {
    const timedOut = call({ methodName: 'slow', responseTimeoutInSeconds: 5 });
    const slow = await nextRequest();
    assertHubError(await timedOut, 504, 'GatewayTimeout', 'no answer in time');
    answer(slow.rid, 200, '{"late":true}');
    answer(slow.rid, 200, '{"late":"again"}');
    await stillWorks();

    answer('never-sent', 200, '{}');
    answer('', 200, '{}');
    answer('x'.repeat(5000), 200, '{}');
    answer(slow.rid, 'NaN', '{}');
    dev.mqtt.publish('$iothub/methods/res/200/', '{}', { qos: 0 });
    dev.mqtt.publish('$iothub/methods/res/200/?$rid=1', Buffer.from([0xff, 0xfe, 0x00]), { qos: 1 });
    await stillWorks();

    const garbage = call({ methodName: 'garbage', responseTimeoutInSeconds: 20 });
    const g = await nextRequest();
    answer(g.rid, 200, '{"unterminated": ');
    assertHubError(await garbage, 400, 'ArgumentInvalid', 'a non-JSON answer fails its call');
    answer(g.rid, 200, '{}'); // after it failed: ignored
    await stillWorks();
  },
);

test(
  'AMQP: answers without status or correlation-id, unknown, twice, late or not JSON: ignored, the links stay',
  T,
  async () => {
    const id = 'method-bad-amqp';
    const cs = await hub.createDevice(id);
    const conn = await amqpDeviceConnection(hub, cs, id);
    try {
      const address = `/devices/${id}/methods/devicebound`;
      const properties = { 'com.microsoft:channel-correlation-id': `methods:${id}` };
      const requests = new Inbox<Message>();
      const receiver = conn.open_receiver({
        source: { address },
        target: { address: 'me' },
        properties,
        autoaccept: true,
      });
      receiver.on('message', (ctx) => ctx.message && requests.push(ctx.message));
      const sender = conn.open_sender({ target: { address }, source: { address: 'me' }, properties });
      await withTimeout(
        Promise.all([
          new Promise((r) => receiver.once('receiver_open', r)),
          new Promise((r) => sender.once('sendable', r)),
        ]),
        10_000,
        'methods links open',
      );
      const reply = (cid: unknown, status: unknown, body: string | Buffer) =>
        sender.send({
          ...(cid === undefined ? {} : { correlation_id: cid as string }),
          application_properties: status === undefined ? {} : { 'IoThub-status': status as number },
          body: rhea.message.data_section(Buffer.from(body)),
        });
      const amqpCall = async (methodName: string, responseTimeoutInSeconds = 20) => {
        const pending = rawInvoke(hub, id, { methodName, payload: { n: 1 }, responseTimeoutInSeconds });
        const req = await requests.next(15_000, `the ${methodName} request`);
        assert.equal(req.application_properties?.['IoThub-methodname'], methodName);
        return { pending, cid: req.correlation_id };
      };

      const first = await amqpCall('first');
      reply(undefined, 200, '{}');
      reply(first.cid, undefined, '{}');
      reply(first.cid, 'abc', '{}');
      reply('never-sent', 200, '{}');
      reply(first.cid, 201, '{"ok":1}');
      reply(first.cid, 500, '{"ok":2}');
      const res = await first.pending;
      assert.equal(res.status, 200, res.body.toString());
      assert.deepEqual(JSON.parse(res.body.toString()), { status: 201, payload: { ok: 1 } });

      const garbage = await amqpCall('garbage');
      reply(garbage.cid, 200, Buffer.from([0xff, 0x00, 0x7b]));
      assertHubError(await garbage.pending, 400, 'ArgumentInvalid', 'a non-JSON answer over AMQP');

      const late = await amqpCall('late', 5);
      assertHubError(await late.pending, 504, 'GatewayTimeout', 'no answer in time over AMQP');
      reply(late.cid, 200, '{}');

      const last = await amqpCall('last');
      reply(last.cid, 200, '[true]');
      assert.deepEqual(JSON.parse((await last.pending).body.toString()), { status: 200, payload: [true] });
      assert.ok(receiver.is_open() && sender.is_open() && conn.is_open(), 'links and connection still open');
    } finally {
      conn.close();
    }
  },
);
