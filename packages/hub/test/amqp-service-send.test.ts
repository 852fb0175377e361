/** The service's sender link to /messages/devicebound: decoding, commit-then-accept, rejections with conditions. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import rhea, { type Sender } from 'rhea';
import type { Authenticator } from '../src/auth/types.js';
import type { C2dEngine } from '../src/engine/types.js';
import { type AmqpHarness, type Client, c2d, startAmqpHarness } from './amqp-harness.js';

async function serviceSender(h: AmqpHarness): Promise<{ c: Client; sender: Sender }> {
  const c = await h.connect();
  assert.equal((await c.putToken(h.serviceToken())).status, 200);
  const r = await c.attachSender('/messages/devicebound');
  assert.equal(r.error, undefined);
  return { c, sender: r.link };
}

describe('AMQP service send', () => {
  let h: AmqpHarness;
  let revoked = false;
  before(async () => {
    h = await startAmqpHarness({
      c2d: { maxQueueDepth: 60, maxMessageSize: 1024 },
      // A revocable view of the real authenticator: the token check that runs per transfer.
      wrapAuth: (auth: Authenticator): Authenticator => ({
        authenticate: (t) => auth.authenticate(t),
        authorize: (p, op) => auth.authorize(p, op),
        can: (p, op) => !(revoked && op.permission === 'ServiceConnect') && auth.can(p, op),
      }),
    });
    for (const d of ['dev1', 'dev#2+x', 'full', 'd0', 'd1', 'd2', 'd3']) await h.createDevice(d);
    await h.createDevice('off', 'disabled');
  });
  after(() => h.close());

  test('accepted after commit, with every field decoded', async () => {
    const { c, sender } = await serviceSender(h);
    const expiry = h.clock.now() + 600_000;
    const out = await c.send(
      sender,
      c2d('dev#2+x', '{"cmd":"reboot"}', {
        message_id: rhea.string_to_uuid('b4c1a4b2-1f6e-4c5d-9a0b-2c3d4e5f6a7b') as unknown as string,
        correlation_id: 'corr-svc',
        content_type: 'application/json',
        content_encoding: 'utf-8',
        user_id: Buffer.from('svc-user') as unknown as string,
        absolute_expiry_time: expiry as unknown as Date,
        application_properties: { 'iothub-ack': 'full', myAppProp: 'x y', n: 7 },
      }),
    );
    assert.deepEqual(out, { state: 'accepted' });
    const [d] = await h.engine.receive('dev#2+x', 1);
    assert.ok(d);
    assert.equal(d.messageId, 'b4c1a4b2-1f6e-4c5d-9a0b-2c3d4e5f6a7b');
    assert.equal(d.correlationId, 'corr-svc');
    assert.equal(d.contentType, 'application/json');
    assert.equal(d.contentEncoding, 'utf-8');
    assert.equal(d.userId, 'svc-user');
    assert.equal(d.expiryTimeUtc, expiry);
    assert.equal(d.ack, 'full');
    assert.deepEqual(d.properties, { myAppProp: 'x y', n: '7' });
    assert.equal(d.body.toString(), '{"cmd":"reboot"}');
    await h.engine.complete('dev#2+x', d.lockToken);
    await c.close();
  });

  test('ulong, binary and string ids become strings', async () => {
    const { c, sender } = await serviceSender(h);
    assert.equal((await c.send(sender, c2d('dev1', 'a', { message_id: 4242 as unknown as string }))).state, 'accepted');
    assert.equal(
      (
        await c.send(
          sender,
          c2d('dev1', 'b', { message_id: rhea.types.wrap_binary(Buffer.from([1, 2, 255])) as unknown as string }),
        )
      ).state,
      'accepted',
    );
    assert.equal(
      (await c.send(sender, c2d('dev1', 'c', { message_id: 'plain', correlation_id: 17 as unknown as string }))).state,
      'accepted',
    );
    const ds = await h.engine.receive('dev1', 3);
    assert.deepEqual(
      ds.map((d) => [d.messageId, d.correlationId]),
      [
        ['4242', undefined],
        ['0102ff', undefined],
        ['plain', '17'],
      ],
    );
    for (const d of ds) await h.engine.complete('dev1', d.lockToken);
    await c.close();
  });

  test('each failure is rejected with its error condition', async () => {
    const { c, sender } = await serviceSender(h);
    const cond = async (m: Parameters<Client['send']>[1]) => {
      const o = await c.send(sender, m);
      assert.equal(o.state, 'rejected');
      return o.error?.condition;
    };
    assert.equal(await cond(c2d('nobody', 'x')), 'amqp:not-found');
    assert.equal(await cond(c2d('off', 'x')), 'amqp:not-found');
    assert.equal(await cond(c2d('dev1', 'x'.repeat(2000))), 'amqp:link:message-size-exceeded');
    assert.equal(
      await cond(c2d('dev1', 'x', { application_properties: { 'iothub-ack': 'sometimes' } })),
      'com.microsoft:argument-error',
    );
    assert.equal(
      await cond(c2d('dev1', 'x', { absolute_expiry_time: (h.clock.now() - 1000) as unknown as Date })),
      'com.microsoft:argument-error',
    );
    assert.equal(
      await cond({ ...c2d('dev1', 'x'), to: '/devices/dev1/messages/events' }),
      'com.microsoft:argument-error',
    );
    assert.equal(await cond({ ...c2d('dev1', 'x'), to: undefined }), 'com.microsoft:argument-error');
    for (let i = 0; i < 60; i++) assert.equal((await c.send(sender, c2d('full', `m${i}`))).state, 'accepted');
    assert.equal(await cond(c2d('full', 'one too many')), 'amqp:resource-limit-exceeded');
    revoked = true;
    try {
      assert.equal(await cond(c2d('dev1', 'x')), 'amqp:unauthorized-access');
    } finally {
      revoked = false;
    }
    assert.equal(await h.engine.queueDepth('dev1'), 0);
    await c.close();
  });

  test('200 sends in flight at once are all accepted and all stored', async () => {
    const { c, sender } = await serviceSender(h);
    const sends = [];
    for (let i = 0; i < 200; i++) sends.push(c.send(sender, c2d(`d${i % 4}`, `n${i}`, { message_id: `m${i}` })));
    const outs = await Promise.all(sends);
    assert.ok(outs.every((o) => o.state === 'accepted'));
    for (let k = 0; k < 4; k++) assert.equal(await h.engine.queueDepth(`d${k}`), 50);
    const first = await h.engine.receive('d1', 50);
    assert.deepEqual(
      first.slice(0, 3).map((d) => d.messageId),
      ['m1', 'm5', 'm9'],
    );
    await c.close();
  });
});

describe('AMQP service send: credit', () => {
  test('a transfer beyond the granted credit detaches the link with transfer-limit-exceeded', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    // Hold every commit so no credit is given back while the peer overruns.
    const h = await startAmqpHarness({
      wrapEngine: (engine: C2dEngine): C2dEngine =>
        Object.assign(Object.create(engine) as C2dEngine, {
          sendMany: async (items: Parameters<C2dEngine['sendMany']>[0]) => {
            await gate;
            return engine.sendMany(items);
          },
        }),
    });
    try {
      await h.createDevice('dev1');
      await h.createDevice('dev2');
      const { c, sender } = await serviceSender(h);
      await new Promise<void>((r) => (sender.sendable() ? r() : sender.once('sendable', () => r())));
      // Pretend the hub granted more than it did.
      (sender as unknown as { credit: number }).credit = 1100;
      const closed = c.linkClosed(sender);
      for (let i = 0; i < 1001; i++) sender.send(c2d('dev1', `x${i}`));
      const err = await closed;
      assert.equal(err?.condition, 'amqp:link:transfer-limit-exceeded');
      open();
      // The hub keeps serving: a new link on the same connection works.
      const again = await c.attachSender('/messages/devicebound');
      assert.equal(again.error, undefined);
      assert.equal((await c.send(again.link, c2d('dev2', 'after'))).state, 'accepted');
      await c.close();
    } finally {
      open();
      await h.close();
    }
  });
});
