/**
 * The official device client over HTTPS (azure-iot-device + azure-iot-device-http) against a real hub:
 * it receives what the send extension enqueued, with ids and application properties (official-sdk-wire.md C),
 * and complete / reject / abandon each leave the queue and the feedback (ack full) as IoT Hub does
 * (c2d-semantics.md 1.7, 3). A settle after the lock expired answers 412 DeviceMessageLockLost.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'azure-iothub';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { receive, settle, settleRaw } from './helpers/device-raw.js';
import { appProperty, openHttpDevice } from './helpers/device-sdk.js';
import { expectFeedback } from './helpers/feedback.js';
import { assertHubError } from './helpers/hub-error.js';
import { send } from './helpers/send.js';
import { waitFor } from './helpers/wait.js';

const LOCK_MS = 1500;
const T = { timeout: 30_000 };

let hub: HubProcess;
let registry: Registry;

before(async () => {
  hub = await startHub({ config: { c2d: { lockTimeoutMs: LOCK_MS }, feedback: { batchDelayMs: 0 } } });
  registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
});

after(async () => {
  await hub?.stop();
});

/** The raw JSON value: Azure answers a number (the SDK types it as a string). */
async function queued(deviceId: string): Promise<unknown> {
  const { responseBody } = await registry.get(deviceId);
  return responseBody.cloudToDeviceMessageCount;
}

async function generationOf(deviceId: string): Promise<string> {
  const { generationId } = (await registry.get(deviceId)).responseBody;
  assert.ok(generationId);
  return generationId;
}

test(
  'the HTTP client receives a sent message with its ids and properties; complete empties the queue and gives Success',
  T,
  async () => {
    const cs = await hub.createDevice('http-complete');
    const expiry = new Date(Date.now() + 3_600_000).toISOString();
    await send(hub, 'http-complete', {
      body: 'hello http',
      messageId: 'mid-complete-1',
      correlationId: 'corr-complete-1',
      ack: 'full',
      expiry,
      contentType: 'text/plain',
      properties: { MyProp: 'v1', other: 'x y' },
    });
    const device = await openHttpDevice(hub, cs);
    try {
      const m = await device.next();
      device.stopReceiving();
      assert.equal(m.messageId, 'mid-complete-1');
      assert.equal(m.correlationId, 'corr-complete-1');
      assert.equal(String(m.data), 'hello http');
      assert.equal(appProperty(m, 'MyProp'), 'v1');
      assert.equal(appProperty(m, 'other'), 'x y');
      assert.equal(Date.parse(String(m.expiryTimeUtc)), Date.parse(expiry));
      assert.ok(m.lockToken, 'the SDK read a lock token from the ETag');
      assert.equal(await queued('http-complete'), 1, 'a locked message is still counted');

      await device.client.complete(m);
      assert.equal(await queued('http-complete'), 0);
      assert.equal(await receive(hub, cs), undefined, 'nothing left to receive');
    } finally {
      await device.close();
    }
    await expectFeedback(hub, [
      {
        originalMessageId: 'mid-complete-1',
        deviceId: 'http-complete',
        deviceGenerationId: await generationOf('http-complete'),
        statusCode: 'Success',
        description: 'Success',
      },
    ]);
  },
);

test('a send without a message id stays without one (the hub makes none up), and the device sees none', T, async () => {
  const cs = await hub.createDevice('http-noid');
  await send(hub, 'http-noid', { body: 'no id' });
  const device = await openHttpDevice(hub, cs);
  try {
    const m = await device.next();
    device.stopReceiving();
    // No iothub-messageid header: the SDK's Message keeps its own default, ''.
    assert.equal(m.messageId, '');
    assert.equal(m.data.toString(), 'no id');
    await device.client.complete(m);
  } finally {
    await device.close();
  }
});

test('reject removes the message for good and gives Rejected feedback', T, async () => {
  const cs = await hub.createDevice('http-reject');
  await send(hub, 'http-reject', { body: 'reject me', messageId: 'mid-reject-1', ack: 'full' });
  const device = await openHttpDevice(hub, cs);
  try {
    const m = await device.next();
    device.stopReceiving();
    assert.equal(m.messageId, 'mid-reject-1');
    await device.client.reject(m);
  } finally {
    await device.close();
  }
  assert.equal(await queued('http-reject'), 0);
  assert.equal(await receive(hub, cs), undefined, 'a rejected message is not delivered again');
  await expectFeedback(hub, [
    {
      originalMessageId: 'mid-reject-1',
      deviceId: 'http-reject',
      deviceGenerationId: await generationOf('http-reject'),
      statusCode: 'Rejected',
    },
  ]);
});

test('abandon puts the message back; it is delivered again and its only feedback is the final Success', T, async () => {
  const cs = await hub.createDevice('http-abandon');
  await send(hub, 'http-abandon', { body: 'again', messageId: 'mid-abandon-1', ack: 'full', properties: { k: 'v' } });
  const first = await openHttpDevice(hub, cs);
  try {
    const m = await first.next();
    first.stopReceiving();
    await first.client.abandon(m);
    assert.equal(await queued('http-abandon'), 1, 'the abandoned message is still queued');
  } finally {
    await first.close();
  }
  const second = await openHttpDevice(hub, cs);
  try {
    const m = await second.next();
    second.stopReceiving();
    assert.equal(m.messageId, 'mid-abandon-1');
    assert.equal(String(m.data), 'again');
    assert.equal(appProperty(m, 'k'), 'v');
    await second.client.complete(m);
  } finally {
    await second.close();
  }
  assert.equal(await queued('http-abandon'), 0);
  await expectFeedback(hub, [{ originalMessageId: 'mid-abandon-1', deviceId: 'http-abandon', statusCode: 'Success' }]);
});

test('abandon keeps the queue order: the abandoned message comes first again', T, async () => {
  const cs = await hub.createDevice('http-order');
  await send(hub, 'http-order', { body: 'a', messageId: 'order-a' });
  await send(hub, 'http-order', { body: 'b', messageId: 'order-b' });
  const a = await receive(hub, cs);
  assert.equal(a?.headers['iothub-messageid'], 'order-a');
  await settle(hub, cs, 'abandon', a!.lockToken);
  const again = await receive(hub, cs);
  assert.equal(again?.headers['iothub-messageid'], 'order-a');
  await settle(hub, cs, 'complete', again!.lockToken);
  const b = await receive(hub, cs);
  assert.equal(b?.headers['iothub-messageid'], 'order-b');
  await settle(hub, cs, 'complete', b!.lockToken);
});

test('complete with an expired lock answers 412 DeviceMessageLockLost and the message stays', T, async () => {
  const cs = await hub.createDevice('http-lock-raw');
  await send(hub, 'http-lock-raw', { body: 'slow', messageId: 'mid-lock-raw' });
  const m = await receive(hub, cs);
  assert.ok(m);
  // The lock has to run out; nothing observable happens at that moment without taking the message again.
  await sleep(LOCK_MS + 300);
  for (const how of ['complete', 'reject', 'abandon'] as const) {
    assertHubError(
      await settleRaw(hub, cs, how, m.lockToken),
      412,
      'DeviceMessageLockLost',
      `${how} after lock expiry`,
    );
  }
  assert.equal(await queued('http-lock-raw'), 1);
  const again = await receive(hub, cs);
  assert.equal(again?.headers['iothub-messageid'], 'mid-lock-raw');
  await settle(hub, cs, 'complete', again!.lockToken);
  assert.equal(await queued('http-lock-raw'), 0);
});

test('the SDK complete after the lock passed to another receive fails with status 412', T, async () => {
  const cs = await hub.createDevice('http-lock-sdk');
  await send(hub, 'http-lock-sdk', { body: 'late', messageId: 'mid-lock-sdk' });
  const device = await openHttpDevice(hub, cs);
  try {
    const m = await device.next();
    device.stopReceiving();
    // When the lock runs out the message is visible again: take it with a raw receive.
    const retaken = await waitFor(() => receive(hub, cs), { timeoutMs: LOCK_MS + 5000, what: 'the lock to expire' });
    assert.equal(retaken.headers['iothub-messageid'], 'mid-lock-sdk');
    assert.notEqual(retaken.lockToken, m.lockToken);
    const err = (await device.client.complete(m).then(
      () => assert.fail('complete with a stale lock must fail'),
      (e: unknown) => e,
    )) as Error & { response?: { statusCode?: number } };
    assert.equal(err.response?.statusCode, 412);
    await settle(hub, cs, 'complete', retaken.lockToken);
  } finally {
    await device.close();
  }
  assert.equal(await queued('http-lock-sdk'), 0);
});
