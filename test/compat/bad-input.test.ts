/**
 * Bad input over HTTPS: each case gets IoT Hub's status, `iothub-errorcode` header and legacy body
 * (c2d-semantics.md 6.3), nothing stored changes, and the hub keeps serving afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import iothub from 'azure-iothub';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { deviceSas, serviceSas, WRONG_KEY } from './helpers/auth.js';
import { receive, receiveRaw, settle, settleRaw } from './helpers/device-raw.js';
import { expectFeedback, receiveFeedbackRaw } from './helpers/feedback.js';
import { assertHubError } from './helpers/hub-error.js';
import { API, send, sendRaw } from './helpers/send.js';

const T = { timeout: 30_000 };
const UNAUTHORIZED = ['IotHubUnauthorizedAccess', 'IotHubUnauthorized'];
const HOUR_AGO_S = Math.floor(Date.now() / 1000) - 3600;

let hub: HubProcess;
let csA: string;
let csB: string;
let csDisabled: string;

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
  csA = await hub.createDevice('bad-a');
  csB = await hub.createDevice('bad-b');
  csDisabled = await hub.createDevice('bad-disabled', { status: 'disabled' });
  // Earlier data that every bad request below must leave alone.
  await send(hub, 'bad-a', { body: 'keep me', messageId: 'keep-1', ack: 'full', properties: { k: 'v' } });
});

after(async () => {
  await hub?.stop();
});

/** The raw JSON value: Azure answers a number (the SDK types it as a string). */
async function queued(deviceId: string): Promise<unknown> {
  const registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
  return (await registry.get(deviceId)).responseBody.cloudToDeviceMessageCount;
}

test('a wrong signature is refused with 401 IotHubUnauthorizedAccess', T, async () => {
  assertHubError(
    await receiveRaw(hub, csA, { authorization: deviceSas(csA, { key: WRONG_KEY }) }),
    401,
    'IotHubUnauthorizedAccess',
    'device receive',
  );
  assertHubError(
    await sendRaw(hub, 'bad-a', { body: 'x', authorization: serviceSas(hub, 'service', { key: WRONG_KEY }) }),
    401,
    'IotHubUnauthorizedAccess',
    'send',
  );
  const registryGet = await hubRequest(hub, 'GET', `/devices/bad-a?${API}`, {
    headers: { authorization: serviceSas(hub, 'iothubowner', { key: WRONG_KEY }) },
  });
  assertHubError(registryGet, 401, 'IotHubUnauthorizedAccess', 'registry get');
  assertHubError(
    await receiveRaw(hub, csA, { authorization: 'SharedAccessSignature garbage' }),
    401,
    'IotHubUnauthorizedAccess',
    'malformed token',
  );
  const noAuth = await hubRequest(hub, 'GET', `/devices/bad-a/messages/devicebound?${API}`);
  assertHubError(noAuth, 401, 'IotHubUnauthorizedAccess', 'no Authorization header');
});

test('an expired token is refused with 401', T, async () => {
  assertHubError(
    await receiveRaw(hub, csA, { authorization: deviceSas(csA, { expiry: HOUR_AGO_S }) }),
    401,
    UNAUTHORIZED,
    'device receive',
  );
  assertHubError(
    await sendRaw(hub, 'bad-a', { body: 'x', authorization: serviceSas(hub, 'service', { expiry: HOUR_AGO_S }) }),
    401,
    UNAUTHORIZED,
    'send',
  );
});

test("another device's token is refused with 401", T, async () => {
  // bad-b's own valid token, presented on bad-a's endpoints.
  const tokenB = deviceSas(csB);
  assertHubError(await receiveRaw(hub, csA, { authorization: tokenB }), 401, 'IotHubUnauthorizedAccess', 'receive');
  assertHubError(
    await settleRaw(hub, csA, 'complete', 'some-lock', { authorization: tokenB }),
    401,
    'IotHubUnauthorizedAccess',
    'complete',
  );
  assertHubError(
    await settleRaw(hub, csA, 'abandon', 'some-lock', { authorization: tokenB }),
    401,
    'IotHubUnauthorizedAccess',
    'abandon',
  );
  // A token naming bad-a but signed with bad-b's key.
  const forged = deviceSas(csA, { key: deviceKey(csB) });
  assertHubError(await receiveRaw(hub, csA, { authorization: forged }), 401, 'IotHubUnauthorizedAccess', 'forged');
  // A device token is not a service credential.
  assertHubError(
    await sendRaw(hub, 'bad-b', { body: 'x', authorization: tokenB }),
    401,
    'IotHubUnauthorizedAccess',
    'send with a device token',
  );
  assertHubError(
    await sendRaw(hub, 'bad-b', { body: 'x', authorization: serviceSas(hub, 'registryReadWrite') }),
    401,
    'IotHubUnauthorizedAccess',
    'send without ServiceConnect',
  );
});

function deviceKey(cs: string): string {
  const m = /SharedAccessKey=([^;]+)/.exec(cs);
  assert.ok(m);
  return m[1]!;
}

test(
  'a disabled device cannot use its endpoints, a send to it gets 404 DeviceNotFound, so does an unknown device',
  T,
  async () => {
    assertHubError(
      await receiveRaw(hub, csDisabled),
      [401, 403],
      ['DeviceDisabled', 'IotHubUnauthorizedAccess'],
      'receive',
    );
    assertHubError(await sendRaw(hub, 'bad-disabled', { body: 'x' }), 404, 'DeviceNotFound', 'send to disabled');
    assertHubError(await sendRaw(hub, 'bad-nobody', { body: 'x' }), 404, 'DeviceNotFound', 'send to unknown');
    assert.equal(await queued('bad-disabled'), 0);
  },
);

test('a body over 64 KiB is refused with 413 MessageTooLarge', T, async () => {
  const res = await sendRaw(hub, 'bad-b', { body: Buffer.alloc(64 * 1024 + 1, 0x61) });
  assertHubError(res, 413, 'MessageTooLarge');
  assert.equal(await queued('bad-b'), 0);
});

test('application properties count toward the 64 KiB (c2d-semantics.md 2.4)', T, async () => {
  const body = Buffer.alloc(60 * 1024, 0x62);
  const properties = { big: 'p'.repeat(6 * 1024) };
  assertHubError(await sendRaw(hub, 'bad-b', { body, properties }), 413, 'MessageTooLarge', 'body + properties');
  assert.equal(await queued('bad-b'), 0);
  // The same body with small properties fits, so the limit is not set lower than 64 KiB.
  await send(hub, 'bad-b', { body, properties: { small: 's' }, messageId: 'fits-60k' });
  const m = await receive(hub, csB);
  assert.equal(m?.body.length, body.length);
  await settle(hub, csB, 'complete', m!.lockToken);
});

test('the 51st pending message is refused with 403 DeviceMaximumQueueDepthExceeded', T, async () => {
  const cs = await hub.createDevice('bad-full');
  for (let i = 0; i < 50; i++) await send(hub, 'bad-full', { body: `m${i}`, messageId: `full-${i}` });
  assertHubError(await sendRaw(hub, 'bad-full', { body: 'one too many' }), 403, 'DeviceMaximumQueueDepthExceeded');
  assert.equal(await queued('bad-full'), 50);
  // A locked message still counts toward the depth (DESIGN.md decision 2); a completed one frees a place.
  const m = await receive(hub, cs);
  assert.equal(m?.headers['iothub-messageid'], 'full-0');
  assertHubError(
    await sendRaw(hub, 'bad-full', { body: 'still too many' }),
    403,
    'DeviceMaximumQueueDepthExceeded',
    'while one is locked',
  );
  await settle(hub, cs, 'complete', m!.lockToken);
  await send(hub, 'bad-full', { body: 'fits now', messageId: 'full-50' });
  assert.equal(await queued('bad-full'), 50);
});

test('an expiry in the past or beyond the max TTL is refused with 403 InvalidMessageExpiryTime', T, async () => {
  const past = new Date(Date.now() - 60_000).toISOString();
  assertHubError(await sendRaw(hub, 'bad-b', { body: 'x', expiry: past }), 403, 'InvalidMessageExpiryTime', 'past');
  const tooFar = new Date(Date.now() + 3 * 24 * 3_600_000).toISOString();
  assertHubError(
    await sendRaw(hub, 'bad-b', { body: 'x', expiry: tooFar }),
    403,
    'InvalidMessageExpiryTime',
    'beyond 2 days',
  );
  assert.equal(await queued('bad-b'), 0);
});

test('an unknown ack value is refused with 400 ArgumentInvalid', T, async () => {
  assertHubError(await sendRaw(hub, 'bad-b', { body: 'x', ack: 'sometimes' }), 400, 'ArgumentInvalid');
  assert.equal(await queued('bad-b'), 0);
});

test('malformed JSON on a registry PUT is refused with 400 ArgumentInvalid and creates nothing', T, async () => {
  const res = await hubRequest(hub, 'PUT', `/devices/bad-json?${API}`, {
    headers: { authorization: serviceSas(hub, 'iothubowner'), 'content-type': 'application/json; charset=utf-8' },
    body: '{"deviceId": "bad-json", "status": ',
  });
  assertHubError(res, 400, 'ArgumentInvalid');
  const get = await hubRequest(hub, 'GET', `/devices/bad-json?${API}`, {
    headers: { authorization: serviceSas(hub, 'iothubowner') },
  });
  assertHubError(get, 404, 'DeviceNotFound', 'the device was not created');
});

test('a missing api-version is refused with 400 InvalidProtocolVersion', T, async () => {
  const owner = serviceSas(hub, 'iothubowner');
  assertHubError(
    await hubRequest(hub, 'GET', '/devices/bad-a', { headers: { authorization: owner } }),
    400,
    'InvalidProtocolVersion',
    'registry get',
  );
  assertHubError(await receiveRaw(hub, csA, { query: '' }), 400, 'InvalidProtocolVersion', 'device receive');
  assertHubError(await sendRaw(hub, 'bad-a', { body: 'x', query: '' }), 400, 'InvalidProtocolVersion', 'send');
  const feedback = await hubRequest(hub, 'GET', '/messages/serviceBound/feedback', {
    headers: { authorization: serviceSas(hub) },
  });
  assertHubError(feedback, 400, 'InvalidProtocolVersion', 'feedback');
  // Any api-version value is accepted (DESIGN.md decision 8).
  const other = await hubRequest(hub, 'GET', '/devices/bad-a?api-version=2020-09-30', {
    headers: { authorization: owner },
  });
  assert.equal(other.status, 200);
});

test('after all of that the hub still serves and the earlier message is intact', T, async () => {
  assert.equal(await queued('bad-a'), 1);
  const m = await receive(hub, csA);
  assert.ok(m);
  assert.equal(m.headers['iothub-messageid'], 'keep-1');
  assert.equal(m.headers['iothub-app-k'], 'v');
  assert.equal(m.body.toString(), 'keep me');
  await settle(hub, csA, 'complete', m.lockToken);
  await expectFeedback(hub, [{ originalMessageId: 'keep-1', deviceId: 'bad-a', statusCode: 'Success' }]);
  assert.equal((await receiveFeedbackRaw(hub)).status, 204);
  assert.equal(await queued('bad-b'), 0, 'no refused send was stored');
});
