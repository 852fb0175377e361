/** $cbs put-token, SASL PLAIN/ANONYMOUS, token coverage and expiry on the AMQP gateway. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import rhea from 'rhea';
import { type AmqpHarness, startAmqpHarness } from './amqp-harness.js';

describe('AMQP $cbs and authentication', () => {
  let h: AmqpHarness;
  before(async () => {
    h = await startAmqpHarness();
    await h.createDevice('dev1');
    await h.createDevice('dev2');
  });
  after(() => h.close());

  test('put-token answers status-code 200 as a number, correlation_id = the string message_id', async () => {
    const c = await h.connect();
    const reply = await c.putToken(h.serviceToken(), { messageId: 'req-1' });
    assert.equal(reply.status, 200);
    assert.equal(typeof reply.status, 'number');
    assert.equal(reply.correlationId, 'req-1');
    assert.equal(reply.description, 'OK');
    await c.close();
  });

  test('a uuid message_id comes back as the same uuid', async () => {
    const c = await h.connect();
    const id = rhea.string_to_uuid('0b6f7a63-3c2e-4a0c-9a55-1b0e3f9f6c11');
    const reply = await c.putToken(h.serviceToken(), { messageId: id });
    assert.equal(reply.status, 200);
    assert.ok(Buffer.isBuffer(reply.correlationId));
    assert.deepEqual(reply.correlationId, id);
    await c.close();
  });

  test('device token with type azure-devices.net:sastoken is accepted', async () => {
    const c = await h.connect();
    const reply = await c.putToken(await h.deviceToken('dev1'), { type: 'azure-devices.net:sastoken' });
    assert.equal(reply.status, 200);
    await c.close();
  });

  test('a wrong signature gets 401 and the connection keeps serving', async () => {
    const c = await h.connect();
    const bad = h.serviceToken('iothubowner', { key: Buffer.from('not the key').toString('base64') });
    const reply = await c.putToken(bad);
    assert.equal(reply.status, 401);
    assert.equal(typeof reply.description, 'string');
    const ok = await c.putToken(h.serviceToken());
    assert.equal(ok.status, 200);
    await c.close();
  });

  test('unsupported operation or token type gets 400', async () => {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken(), { operation: 'get-token' })).status, 400);
    assert.equal((await c.putToken(h.serviceToken(), { type: 'jwt' })).status, 400);
    await c.close();
  });

  test('links not covered by a token are detached with amqp:unauthorized-access', async () => {
    const c = await h.connect();
    const send = await c.attachSender('/messages/devicebound');
    assert.equal(send.error?.condition, 'amqp:unauthorized-access');
    const fb = await c.attachReceiver('/messages/serviceBound/feedback');
    assert.equal(fb.error?.condition, 'amqp:unauthorized-access');
    const dev = await c.attachReceiver('/devices/dev1/messages/devicebound');
    assert.equal(dev.error?.condition, 'amqp:unauthorized-access');
    await c.close();
  });

  test("a device token cannot attach another device's link, nor service links", async () => {
    const c = await h.connect();
    assert.equal((await c.putToken(await h.deviceToken('dev1'))).status, 200);
    const other = await c.attachReceiver('/devices/dev2/messages/devicebound');
    assert.equal(other.error?.condition, 'amqp:unauthorized-access');
    const send = await c.attachSender('/messages/devicebound');
    assert.equal(send.error?.condition, 'amqp:unauthorized-access');
    const own = await c.attachReceiver('/devices/dev1/messages/devicebound');
    assert.equal(own.error, undefined);
    await c.close();
  });

  test('a policy without ServiceConnect cannot attach the service send link', async () => {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken('registryReadWrite'))).status, 200);
    const send = await c.attachSender('/messages/devicebound');
    assert.equal(send.error?.condition, 'amqp:unauthorized-access');
    await c.close();
  });

  test('token expiry without renewal closes the links it covered; a renewal keeps them', async () => {
    const c = await h.connect();
    const now = Math.floor(h.clock.now() / 1000);
    assert.equal((await c.putToken(await h.deviceToken('dev1', { expiry: now + 60 }))).status, 200);
    assert.equal((await c.putToken(await h.deviceToken('dev2', { expiry: now + 60 }))).status, 200);
    const one = await c.attachReceiver('/devices/dev1/messages/devicebound');
    const two = await c.attachReceiver('/devices/dev2/messages/devicebound');
    assert.equal(one.error, undefined);
    assert.equal(two.error, undefined);
    // Renew dev2 only (same audience), on the same connection.
    assert.equal((await c.putToken(await h.deviceToken('dev2', { expiry: now + 3600 }))).status, 200);
    const closed = c.linkClosed(one.link);
    // Past se + the 5-minute skew.
    await h.advance(61_000 + 5 * 60_000);
    const err = await closed;
    assert.equal(err?.condition, 'amqp:unauthorized-access');
    assert.ok(two.link.is_open(), 'the renewed link stays open');
    await c.close();
  });

  test('SASL PLAIN with {policy}@sas.root.{hub} authorizes service links without CBS', async () => {
    const c = await h.connect({ username: 'iothubowner@sas.root.localhost', password: h.serviceToken() });
    const send = await c.attachSender('/messages/devicebound');
    assert.equal(send.error, undefined);
    await c.close();
  });

  test('SASL PLAIN with {deviceId}@sas.{hub} authorizes that device', async () => {
    const c = await h.connect({ username: 'dev1@sas.localhost', password: await h.deviceToken('dev1') });
    const own = await c.attachReceiver('/devices/dev1/messages/devicebound');
    assert.equal(own.error, undefined);
    await c.close();
  });

  test('SASL PLAIN with a bad password fails the connection', async () => {
    const bad = h.serviceToken('iothubowner', { key: Buffer.from('nope').toString('base64') });
    await assert.rejects(h.connect({ username: 'iothubowner@sas.root.localhost', password: bad }));
    // Username for another policy than the token's.
    await assert.rejects(h.connect({ username: 'service@sas.root.localhost', password: h.serviceToken() }));
  });

  test('SASL ANONYMOUS, then CBS', async () => {
    const c = await h.connect({ username: 'anonymous', sasl_mechanisms: undefined } as never);
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    assert.equal((await c.attachSender('/messages/devicebound')).error, undefined);
    await c.close();
  });
});
