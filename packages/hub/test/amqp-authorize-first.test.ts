/**
 * Issue 23: on AMQP every attach is authorized before anything else is said about it. Without a
 * credential that covers the address, an address Ferry does not serve (or not in that direction)
 * gets amqp:unauthorized-access like any other; only a caller who could use it learns
 * amqp:not-found or amqp:not-implemented. (Before: device telemetry answered not-implemented to
 * anyone, so an X.509 device with the wrong certificate never heard it was refused.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AmqpHarness, type Client, startAmqpHarness } from './amqp-harness.js';

const UNAUTHORIZED = 'amqp:unauthorized-access';

let h: AmqpHarness;
before(async () => {
  h = await startAmqpHarness();
  await h.createDevice('af-1');
  await h.createDevice('af-2');
});
after(async () => {
  await h.close();
});

/** The condition each attach is refused with (undefined when it opened), one attach after another. */
async function conditions(c: Client, attaches: ReadonlyArray<['sender' | 'receiver', string]>) {
  const out: Array<string | undefined> = [];
  for (const [role, address] of attaches) {
    const r = role === 'sender' ? await c.attachSender(address) : await c.attachReceiver(address);
    out.push(r.error ? String(r.error.condition) : undefined);
    r.link.close();
  }
  return out;
}

const UNSERVED: ReadonlyArray<['sender' | 'receiver', string]> = [
  ['sender', '/devices/af-1/messages/events'],
  ['sender', '/devices/af-1/nothing-here'],
  ['receiver', '/messages/serviceBound/fileNotifications'],
  ['receiver', '/nowhere'],
  ['sender', '/nowhere'],
];

test('no credential: every address, served or not, is refused as unauthorized', async () => {
  const c = await h.connect();
  assert.deepEqual(await conditions(c, UNSERVED), Array(UNSERVED.length).fill(UNAUTHORIZED));
  // The served ones too, and $cbs stays open to everyone.
  assert.deepEqual(
    await conditions(c, [
      ['receiver', '/devices/af-1/messages/deviceBound'],
      ['sender', '/messages/deviceBound'],
      ['receiver', '$cbs'],
    ]),
    [UNAUTHORIZED, UNAUTHORIZED, undefined],
  );
  await c.close();
});

test("another device's token: that device's addresses stay unauthorized, not 'not found'", async () => {
  const c = await h.connect();
  assert.equal((await c.putToken(await h.deviceToken('af-2'))).status, 200);
  assert.deepEqual(
    await conditions(c, [
      ['sender', '/devices/af-1/nothing-here'],
      ['sender', '/devices/af-2/nothing-here'],
    ]),
    [UNAUTHORIZED, 'amqp:not-found'],
  );
  await c.close();
});

test('with a covering credential the same addresses are refused as not served', async () => {
  const c = await h.connect();
  assert.equal((await c.putToken(h.serviceToken('iothubowner'))).status, 200);
  const got = await conditions(c, UNSERVED.slice(1));
  assert.deepEqual(got, ['amqp:not-found', 'amqp:not-implemented', 'amqp:not-found', 'amqp:not-found']);
  await c.close();
});

test('an expired token no longer counts as a credential for an unknown address', async () => {
  const c = await h.connect();
  const soon = Math.floor(h.clock.now() / 1000) + 60;
  assert.equal((await c.putToken(h.serviceToken('service', { expiry: soon }))).status, 200);
  assert.deepEqual(await conditions(c, [['sender', '/nowhere']]), ['amqp:not-found']);
  // Past the expiry and the 5-minute skew.
  await h.advance(6 * 60_000);
  assert.deepEqual(await conditions(c, [['sender', '/nowhere']]), [UNAUTHORIZED]);
  c.destroy();
});
