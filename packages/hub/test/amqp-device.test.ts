/** The device's receiver link from /devices/{id}/messages/devicebound. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Receiver, Sender } from 'rhea';
import { type AmqpHarness, bodyOf, type Client, c2d, eventually, Inbox, startAmqpHarness } from './amqp-harness.js';

describe('AMQP device link', () => {
  let h: AmqpHarness;
  let svc: { c: Client; sender: Sender };

  async function send(deviceId: string, body: string, extra = {}): Promise<void> {
    const o = await svc.c.send(svc.sender, c2d(deviceId, body, extra));
    assert.equal(o.state, 'accepted');
  }

  async function device(
    deviceId: string,
    opts: Record<string, unknown> = {},
  ): Promise<{ c: Client; link: Receiver; inbox: Inbox }> {
    const c = await h.connect();
    assert.equal((await c.putToken(await h.deviceToken(deviceId))).status, 200);
    const r = await c.attachReceiver(`/devices/${deviceId}/messages/devicebound`, opts);
    assert.equal(r.error, undefined);
    return { c, link: r.link, inbox: new Inbox(r.link) };
  }

  before(async () => {
    h = await startAmqpHarness({ c2d: { maxDeliveryCount: 3 } });
    for (const d of ['props', 'credit', 'settle', 'range', 'detach', 'lost', 'steal', 'state']) await h.createDevice(d);
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    const s = await c.attachSender('/messages/devicebound');
    svc = { c, sender: s.link };
  });
  after(() => h.close());

  test('receives with every property, annotation and a 16-byte delivery tag', async () => {
    const expiry = h.clock.now() + 600_000;
    await send('props', 'hello amqp', {
      message_id: 'c2d-1',
      correlation_id: 'corr-1',
      content_type: 'text/plain',
      content_encoding: 'utf-8',
      user_id: Buffer.from('svc') as unknown as string,
      absolute_expiry_time: expiry as unknown as Date,
      application_properties: { 'iothub-ack': 'full', kind: 'test' },
    });
    const d = await device('props');
    const { message: m, delivery } = await d.inbox.nth(0);
    assert.equal(bodyOf(m).toString(), 'hello amqp');
    assert.equal((m.body as { typecode: number }).typecode, 0x75, 'data section');
    assert.equal(m.message_id, 'c2d-1');
    assert.equal(m.correlation_id, 'corr-1');
    assert.equal(m.to, '/devices/props/messages/deviceBound');
    assert.equal(m.content_type, 'text/plain');
    assert.equal(m.content_encoding, 'utf-8');
    assert.deepEqual(m.user_id, Buffer.from('svc'));
    assert.equal(new Date(m.absolute_expiry_time as unknown as Date).getTime(), expiry);
    assert.deepEqual(m.application_properties, { 'iothub-ack': 'full', kind: 'test' });
    const ann = m.message_annotations ?? {};
    assert.ok(ann['iothub-enqueuedtime'] instanceof Date);
    assert.equal(typeof ann['x-opt-sequence-number'], 'number');
    assert.equal(ann['iothub-deliverycount'], 0);
    assert.ok(Buffer.isBuffer(delivery.tag) && delivery.tag.length === 16);
    delivery.accept();
    await eventually(async () => (await h.engine.queueDepth('props')) === 0, 'completed', h.engine);
    await d.c.close();
  });

  test('honours link credit', async () => {
    for (let i = 0; i < 5; i++) await send('credit', `m${i}`);
    const d = await device('credit', { credit_window: 0 });
    d.link.add_credit(2);
    await d.inbox.atLeast(2);
    // With credit 2 the hub leased exactly two: the other three are still there for anyone.
    const rest = await h.engine.receive('credit', 10);
    assert.equal(rest.length, 3);
    await h.engine.release(
      'credit',
      rest.map((r) => r.lockToken),
    );
    d.link.add_credit(3);
    const all = await d.inbox.atLeast(5);
    assert.deepEqual(
      all.map((x) => bodyOf(x.message).toString()),
      ['m0', 'm1', 'm2', 'm3', 'm4'],
    );
    await d.c.close();
  });

  test('accepted = complete, rejected = reject, released = abandon (redelivered with count 1), modified = abandon', async () => {
    for (const b of ['a', 'r', 'x', 'm']) await send('settle', b, { application_properties: { 'iothub-ack': 'full' } });
    const d = await device('settle');
    const first = await d.inbox.atLeast(4);
    first[0]!.delivery.accept();
    await eventually(async () => (await h.engine.queueDepth('settle')) === 3, 'complete', h.engine);
    first[1]!.delivery.reject();
    await eventually(async () => (await h.engine.queueDepth('settle')) === 2, 'reject', h.engine);
    first[2]!.delivery.release();
    const again = await d.inbox.nth(4);
    assert.equal(bodyOf(again.message).toString(), 'x');
    assert.equal(again.message.message_annotations?.['iothub-deliverycount'], 1);
    first[3]!.delivery.modified({ delivery_failed: true });
    const again2 = await d.inbox.nth(5);
    assert.equal(bodyOf(again2.message).toString(), 'm');
    assert.equal(again2.message.message_annotations?.['iothub-deliverycount'], 1);
    again.delivery.accept();
    again2.delivery.accept();
    await eventually(async () => (await h.engine.queueDepth('settle')) === 0, 'all settled', h.engine);
    // Success, Rejected, Success, Success.
    const statuses: string[] = [];
    for (let fb = await h.engine.receiveFeedback(); fb; fb = await h.engine.receiveFeedback()) {
      statuses.push(...fb.records.filter((r) => r.deviceId === 'settle').map((r) => r.statusCode));
      await h.engine.completeFeedback(fb.lockToken);
    }
    assert.deepEqual(statuses.sort(), ['Rejected', 'Success', 'Success', 'Success']);
    await d.c.close();
  });

  test('one disposition over a first..last range settles every delivery in it', async () => {
    for (let i = 0; i < 4; i++) await send('range', `r${i}`);
    const d = await device('range');
    const got = await d.inbox.atLeast(4);
    // Accepted outcomes settled in one tick are merged by rhea into a single range frame.
    for (const g of got) g.delivery.accept();
    await eventually(async () => (await h.engine.queueDepth('range')) === 0, 'range completed', h.engine);
    await d.c.close();
  });

  test('detaching returns unsettled messages to the queue without counting a delivery', async () => {
    for (let i = 0; i < 2; i++) await send('detach', `d${i}`);
    const d = await device('detach');
    await d.inbox.atLeast(2);
    d.link.close();
    await d.c.linkClosed(d.link);
    await eventually(async () => (await h.engine.receive('detach', 10)).length === 2, 'released', h.engine);
    await d.c.close();
  });

  test('a lost connection returns unsettled messages to the queue', async () => {
    await send('lost', 'l0');
    const d = await device('lost');
    await d.inbox.atLeast(1);
    d.c.destroy();
    const d2 = await device('lost');
    const back = await d2.inbox.nth(0);
    assert.equal(bodyOf(back.message).toString(), 'l0');
    assert.equal(back.message.message_annotations?.['iothub-deliverycount'], 0);
    back.delivery.accept();
    await d2.c.close();
  });

  test('a new link for the device replaces the old one (amqp:link:stolen)', async () => {
    const d1 = await device('steal');
    const stolen = d1.c.linkClosed(d1.link);
    const d2 = await device('steal');
    assert.equal((await stolen)?.condition, 'amqp:link:stolen');
    await send('steal', 's0');
    assert.equal(bodyOf((await d2.inbox.nth(0)).message).toString(), 's0');
    assert.equal(d1.inbox.items.length, 0);
    await d1.c.close();
    await d2.c.close();
  });

  test('reports Connected while a device link is up, Disconnected after', async () => {
    const d = await device('state');
    await eventually(async () => (await h.registry.get('state')).connectionState === 'Connected', 'connected');
    d.link.close();
    await eventually(async () => (await h.registry.get('state')).connectionState === 'Disconnected', 'disconnected');
    await d.c.close();
  });

  test('an unknown device (policy token with DeviceConnect) is detached with amqp:not-found', async () => {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken('iothubowner'))).status, 200);
    const r = await c.attachReceiver('/devices/ghost/messages/devicebound');
    const err = r.error ?? (await c.linkClosed(r.link));
    assert.equal(err?.condition, 'amqp:not-found');
    await c.close();
  });
});
