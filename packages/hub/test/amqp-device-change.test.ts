/**
 * A registry change reaches live AMQP connections: the C2D link of a disabled or deleted device is
 * detached with an error and its unsettled messages go back; device tokens the change invalidates
 * (disable, delete, a regenerated key) are dropped from every connection, so a later attach must
 * bring a new token. Policy tokens and service links are not affected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Receiver, Sender } from 'rhea';
import type { Authenticator } from '../src/auth/types.js';
import { type AmqpHarness, type Client, c2d, eventually, Inbox, startAmqpHarness } from './amqp-harness.js';

const NEW_KEY = Buffer.alloc(32, 7).toString('base64');
const OTHER_KEY = Buffer.alloc(32, 8).toString('base64');
const inbound = (deviceId: string) => `/devices/${deviceId}/messages/devicebound`;

describe('AMQP: a device changed in the registry', () => {
  let h: AmqpHarness;
  let svc: { c: Client; sender: Sender };
  // The authenticator waits here (after its registry read) while `hold` is set.
  let hold: Promise<void> | undefined;
  let held = 0;

  before(async () => {
    const wrapAuth = (auth: Authenticator): Authenticator => ({
      authenticate: async (token) => {
        const principal = await auth.authenticate(token);
        if (hold) {
          held++;
          await hold;
        }
        return principal;
      },
      authorize: (p, op) => auth.authorize(p, op),
      can: (p, op) => auth.can(p, op),
    });
    h = await startAmqpHarness({ wrapAuth });
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    svc = { c, sender: (await c.attachSender('/messages/devicebound')).link };
  });
  after(() => h.close());

  async function send(deviceId: string, body: string): Promise<void> {
    assert.equal((await svc.c.send(svc.sender, c2d(deviceId, body, { message_id: body }))).state, 'accepted');
  }

  /** A device connection with a device token (primary key unless `key`), its C2D link attached. */
  async function device(deviceId: string, key?: string): Promise<{ c: Client; link: Receiver; inbox: Inbox }> {
    const c = await h.connect();
    assert.equal((await c.putToken(await h.deviceToken(deviceId, key ? { key } : {}))).status, 200);
    const r = await c.attachReceiver(inbound(deviceId));
    assert.equal(r.error, undefined);
    return { c, link: r.link, inbox: new Inbox(r.link) };
  }

  async function connectionState(deviceId: string): Promise<string> {
    return (await h.registry.get(deviceId)).connectionState;
  }

  async function setKeys(deviceId: string, keys: { primaryKey?: string; secondaryKey?: string }) {
    await h.registry.update(deviceId, { authentication: { symmetricKey: keys } }, '*');
  }

  test('disabling detaches the C2D link with unauthorized-access, returns unsettled messages, drops the token', async () => {
    await h.createDevice('dis');
    await send('dis', 'm1');
    const d = await device('dis');
    await d.inbox.atLeast(1);
    assert.equal(await connectionState('dis'), 'Connected');

    await h.registry.update('dis', { status: 'disabled' }, '*');
    const err = await d.c.linkClosed(d.link);
    assert.equal(err?.condition, 'amqp:unauthorized-access');
    await eventually(async () => (await connectionState('dis')) === 'Disconnected', 'Disconnected', h.engine);
    // The unsettled message is back: once re-enabled, a new receiver gets it again.
    await h.registry.update('dis', { status: 'enabled' }, '*');
    // The same connection must bring a new token: the old one was dropped with the disable.
    const again = await d.c.attachReceiver(inbound('dis'));
    assert.equal(again.error?.condition, 'amqp:unauthorized-access');
    assert.equal((await d.c.putToken(await h.deviceToken('dis'))).status, 200);
    const renewed = await d.c.attachReceiver(inbound('dis'));
    assert.equal(renewed.error, undefined);
    const m = await new Inbox(renewed.link).nth(0);
    assert.equal(m.message.message_id, 'm1');
    await d.c.close();
  });

  test('deleting detaches the C2D link with not-found and drops the token', async () => {
    await h.createDevice('del');
    await send('del', 'm1');
    const d = await device('del');
    await d.inbox.atLeast(1);

    await h.registry.delete('del');
    const err = await d.c.linkClosed(d.link);
    assert.equal(err?.condition, 'amqp:not-found');
    // Re-created under the same id: the old token (signed with the old key) is not honoured.
    await h.createDevice('del');
    const again = await d.c.attachReceiver(inbound('del'));
    assert.equal(again.error?.condition, 'amqp:unauthorized-access');
    assert.equal(await h.engine.queueDepth('del'), 0, 'the queue went with the device');
    await d.c.close();
  });

  test('service connections and other devices are not affected', async () => {
    await h.createDevice('svc-a');
    await h.createDevice('svc-b');
    const b = await device('svc-b');
    // A connection that holds a policy token with DeviceConnect keeps it across the disable.
    const owner = await h.connect();
    assert.equal((await owner.putToken(h.serviceToken('iothubowner'))).status, 200);
    const viaPolicy = await owner.attachReceiver(inbound('svc-a'));
    assert.equal(viaPolicy.error, undefined);

    await h.registry.update('svc-a', { status: 'disabled' }, '*');
    assert.equal((await owner.linkClosed(viaPolicy.link))?.condition, 'amqp:unauthorized-access');
    await send('svc-b', 'still-here');
    assert.equal((await b.inbox.nth(0)).message.message_id, 'still-here');
    assert.ok(svc.sender.is_open(), 'the service send link stays open');

    await h.registry.update('svc-a', { status: 'enabled' }, '*');
    const reattached = await owner.attachReceiver(inbound('svc-a'));
    assert.equal(reattached.error, undefined, 'the policy token was kept');
    await owner.close();
    await b.c.close();
  });

  test('a regenerated key detaches links whose token it signed, not those signed with a key still held', async () => {
    await h.createDevice('keys');
    const old = (await h.registry.identity('keys'))!;
    const byPrimary = await device('keys', old.primaryKey!);
    await setKeys('keys', { primaryKey: NEW_KEY });
    assert.equal((await byPrimary.c.linkClosed(byPrimary.link))?.condition, 'amqp:unauthorized-access');

    const bySecondary = await device('keys', old.secondaryKey!);
    await setKeys('keys', { primaryKey: old.secondaryKey!, secondaryKey: NEW_KEY });
    await send('keys', 'k1');
    assert.equal((await bySecondary.inbox.nth(0)).message.message_id, 'k1', 'a swapped key is still a device key');
    bySecondary.inbox.items[0]!.delivery.accept();

    await setKeys('keys', { primaryKey: OTHER_KEY });
    assert.equal((await bySecondary.c.linkClosed(bySecondary.link))?.condition, 'amqp:unauthorized-access');
    await byPrimary.c.close();
    await bySecondary.c.close();
  });

  test('a put-token being checked when the device is disabled is refused', async () => {
    await h.createDevice('race');
    const c = await h.connect();
    const token = await h.deviceToken('race');
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    held = 0;
    const reply = c.putToken(token);
    await eventually(() => held === 1, 'put-token authenticated');
    await h.registry.update('race', { status: 'disabled' }, '*');
    hold = undefined;
    release();
    assert.equal((await reply).status, 403);
    await h.registry.update('race', { status: 'enabled' }, '*');
    const r = await c.attachReceiver(inbound('race'));
    assert.equal(r.error?.condition, 'amqp:unauthorized-access', 'no claim was stored');
    await c.close();
  });
});
