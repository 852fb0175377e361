/**
 * Durability (DESIGN.md "Durability"): nothing is answered before it is committed, so a SIGKILL right
 * after an answer loses nothing. A sent message survives kill -9 and is delivered after restart; a
 * completion answered before the kill stays completed, and its feedback record is kept; a device's
 * sequence numbers after the restart come after every one handed out before it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { receive, settle } from './helpers/device-raw.js';
import { appProperty, openHttpDevice } from './helpers/device-sdk.js';
import { expectFeedback } from './helpers/feedback.js';
import { send } from './helpers/send.js';

const T = { timeout: 45_000 };

let hub: HubProcess;

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
});

after(async () => {
  await hub?.stop();
});

/** The raw JSON value: Azure answers a number (the SDK types it as a string). */
async function queued(deviceId: string): Promise<unknown> {
  const registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
  return (await registry.get(deviceId)).responseBody.cloudToDeviceMessageCount;
}

test('a message whose send was answered survives kill -9 and is delivered after restart', T, async () => {
  const cs = await hub.createDevice('dur-send');
  await send(hub, 'dur-send', {
    body: 'survive',
    messageId: 'dur-send-1',
    correlationId: 'dur-corr',
    ack: 'full',
    properties: { step: 'one' },
  });
  await send(hub, 'dur-send', { body: 'survive too', messageId: 'dur-send-2' });
  await hub.kill();
  await hub.restart();

  assert.equal(await queued('dur-send'), 2);
  const device = await openHttpDevice(hub, cs);
  try {
    const m1 = await device.next();
    assert.equal(m1.messageId, 'dur-send-1');
    assert.equal(m1.correlationId, 'dur-corr');
    assert.equal(String(m1.data), 'survive');
    assert.equal(appProperty(m1, 'step'), 'one');
    await device.client.complete(m1);
    const m2 = await device.next();
    assert.equal(m2.messageId, 'dur-send-2');
    assert.equal(String(m2.data), 'survive too');
    device.stopReceiving();
    await device.client.complete(m2);
  } finally {
    await device.close();
  }
  assert.equal(await queued('dur-send'), 0);
  await expectFeedback(hub, [{ originalMessageId: 'dur-send-1', deviceId: 'dur-send', statusCode: 'Success' }]);
});

test('a completion answered before kill -9 stays completed, and its feedback is there after restart', T, async () => {
  const cs = await hub.createDevice('dur-complete');
  await send(hub, 'dur-complete', { body: 'done', messageId: 'dur-done-1', ack: 'full' });
  await send(hub, 'dur-complete', { body: 'rejected', messageId: 'dur-rej-1', ack: 'full' });
  const first = await receive(hub, cs);
  assert.equal(first?.headers['iothub-messageid'], 'dur-done-1');
  await settle(hub, cs, 'complete', first!.lockToken);
  const second = await receive(hub, cs);
  assert.equal(second?.headers['iothub-messageid'], 'dur-rej-1');
  await settle(hub, cs, 'reject', second!.lockToken);
  await hub.kill();
  await hub.restart();

  assert.equal(await queued('dur-complete'), 0);
  assert.equal(await receive(hub, cs), undefined, 'settled messages are not delivered again');
  await expectFeedback(hub, [
    { originalMessageId: 'dur-done-1', deviceId: 'dur-complete', statusCode: 'Success' },
    { originalMessageId: 'dur-rej-1', deviceId: 'dur-complete', statusCode: 'Rejected' },
  ]);
});

test('devices, keys and queues survive a restart after kill -9 with many answered sends', T, async () => {
  const cs = await hub.createDevice('dur-many');
  const ids = Array.from({ length: 20 }, (_, i) => `dur-many-${i}`);
  // Sent concurrently so the hub's group commit answers several in one transaction.
  await Promise.all(ids.map((id) => send(hub, 'dur-many', { body: id, messageId: id })));
  await hub.kill();
  await hub.restart();

  assert.equal(await queued('dur-many'), ids.length);
  const got: string[] = [];
  for (;;) {
    const m = await receive(hub, cs);
    if (!m) break;
    got.push(String(m.headers['iothub-messageid']));
    assert.equal(m.body.toString(), m.headers['iothub-messageid']);
    await settle(hub, cs, 'complete', m.lockToken);
  }
  assert.deepEqual(got.sort(), [...ids].sort());
});

test(
  'sequence numbers after kill -9 come after every one handed out before, from a block held in memory too',
  T,
  async () => {
    const cs = await hub.createDevice('dur-seq');
    await Promise.all([0, 1, 2].map((i) => hub.createDevice(`dur-seq-warm-${i}`)));
    // Enough write transactions of the hub alone that it hands out sequence numbers from blocks
    // reserved in the device's row and held in memory (docs/store-hot-path.md).
    for (let i = 0; i < 120; i++) await send(hub, `dur-seq-warm-${i % 3}`, { body: 'w' });
    const seqs: number[] = [];
    const sendAndReceive = async (n: number) => {
      for (let i = 0; i < n; i++) await send(hub, 'dur-seq', { body: `s${seqs.length}` });
      for (let i = 0; i < n; i++) {
        const m = await receive(hub, cs);
        assert.ok(m, 'the message sent is there');
        seqs.push(Number(m.headers['iothub-sequencenumber']));
        await settle(hub, cs, 'complete', m.lockToken);
      }
    };
    await sendAndReceive(3);
    await hub.kill();
    await hub.restart();
    await sendAndReceive(2);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `increasing: ${seqs.join(', ')}`);
    assert.ok(seqs[3]! > seqs[2]! + 1, `the hub held a block when it was killed (${seqs.join(', ')})`);
  },
);
