/** The service's receiver link from /messages/serviceBound/feedback. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FeedbackRecord } from '@ferry/common';
import rhea, { type Receiver } from 'rhea';
import {
  type AmqpHarness,
  bodyOf,
  type Client,
  c2d,
  eventually,
  HUB_NAME,
  Inbox,
  startAmqpHarness,
} from './amqp-harness.js';

describe('AMQP feedback link', () => {
  let h: AmqpHarness;
  let svc: Client;

  /** Sends `n` messages with ack full to `deviceId` and completes them, making `n` feedback records. */
  async function makeFeedback(deviceId: string, n: number): Promise<void> {
    const s = await svc.attachSender('/messages/devicebound');
    for (let i = 0; i < n; i++) {
      const o = await svc.send(
        s.link,
        c2d(deviceId, 'x', { message_id: `${deviceId}-${i}`, application_properties: { 'iothub-ack': 'full' } }),
      );
      assert.equal(o.state, 'accepted');
    }
    const ds = await h.engine.receive(deviceId, n);
    for (const d of ds) await h.engine.complete(deviceId, d.lockToken);
    s.link.close();
  }

  async function feedbackReceiver(
    address = '/messages/serviceBound/feedback',
    opts = {},
  ): Promise<{ c: Client; link: Receiver; inbox: Inbox }> {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken('service'))).status, 200);
    const r = await c.attachReceiver(address, opts);
    assert.equal(r.error, undefined);
    return { c, link: r.link, inbox: new Inbox(r.link) };
  }

  before(async () => {
    h = await startAmqpHarness();
    for (const d of ['f1', 'f2', 'f3', 'f4']) await h.createDevice(d);
    svc = await h.connect();
    assert.equal((await svc.putToken(h.serviceToken())).status, 200);
  });
  after(() => h.close());

  test('a batch is one unsettled transfer in the shape the SDKs require; accepted completes it', async () => {
    await makeFeedback('f1', 1);
    const r = await feedbackReceiver('/MESSAGES/SERVICEBOUND/FEEDBACK');
    const { message: m, delivery } = await r.inbox.nth(0);
    assert.equal(m.content_type, 'application/vnd.microsoft.iothub.feedback.json');
    assert.deepEqual(m.user_id, Buffer.from(HUB_NAME));
    assert.ok(m.message_annotations?.['iothub-enqueuedtime'] instanceof Date);
    assert.ok(Buffer.isBuffer(delivery.tag) && delivery.tag.length === 16);
    assert.equal(delivery.settled, false);
    const records = JSON.parse(bodyOf(m).toString()) as FeedbackRecord[];
    assert.equal(records.length, 1);
    assert.equal(records[0]!.originalMessageId, 'f1-0');
    assert.equal(records[0]!.statusCode, 'Success');
    assert.equal(records[0]!.deviceId, 'f1');
    delivery.accept();
    await r.c.close();
    // Had the batch not been completed, it would be back once its lock expired.
    await h.advance(61_000);
    assert.equal(await h.engine.receiveFeedback(), null);
  });

  test('a second disposition for a settled batch (the SDK completes after auto-accept) is ignored', async () => {
    await makeFeedback('f1', 1);
    const r = await feedbackReceiver();
    const { delivery } = await r.inbox.nth(0);
    delivery.accept();
    // Once the accepted disposition is on the wire, a released one for the same delivery.
    await new Promise((resolve) => setImmediate(resolve));
    // rhea has message.released() at run time; its typings omit it.
    const outcomes = rhea.message as unknown as { released(): { described(): unknown } };
    delivery.update(true, outcomes.released().described() as Parameters<typeof delivery.update>[1]);
    await r.c.close();
    await h.advance(61_000);
    assert.equal(await h.engine.receiveFeedback(), null, 'completed, not abandoned');
  });

  test('released gives the batch back to another receiver; rejected drops it', async () => {
    const a = await feedbackReceiver();
    await makeFeedback('f2', 1);
    const first = await a.inbox.nth(0);
    first.delivery.release();
    await a.c.close();
    const b = await feedbackReceiver();
    const again = await b.inbox.nth(0);
    assert.equal((JSON.parse(bodyOf(again.message).toString()) as FeedbackRecord[])[0]!.originalMessageId, 'f2-0');
    again.delivery.reject();
    await b.c.close();
    await h.advance(61_000);
    assert.equal(await h.engine.receiveFeedback(), null, 'dead-lettered');
  });

  test('receivers compete: each batch goes to exactly one of them', async () => {
    const a = await feedbackReceiver();
    const b = await feedbackReceiver();
    await makeFeedback('f3', 6);
    const ids = () =>
      [...a.inbox.items, ...b.inbox.items].flatMap((x) =>
        (JSON.parse(bodyOf(x.message).toString()) as FeedbackRecord[]).map((r) => r.originalMessageId),
      );
    await eventually(() => ids().length >= 6, 'six records delivered', h.engine);
    assert.deepEqual(ids().sort(), ['f3-0', 'f3-1', 'f3-2', 'f3-3', 'f3-4', 'f3-5']);
    for (const x of [...a.inbox.items, ...b.inbox.items]) x.delivery.accept();
    await a.c.close();
    await b.c.close();
    await h.advance(61_000);
    assert.equal(await h.engine.receiveFeedback(), null);
  });

  test('a receiver with credit waits, and wakes when feedback arrives', async () => {
    const a = await feedbackReceiver();
    assert.equal(a.inbox.items.length, 0);
    await makeFeedback('f4', 1);
    const got = await a.inbox.nth(0);
    got.delivery.accept();
    await a.c.close();
  });
});
