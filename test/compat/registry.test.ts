/**
 * The registry REST API driven by the official azure-iothub Registry over TLS (spec official-sdk-wire.md D.2,
 * c2d-semantics.md 7.6): create with generated keys, get, list, update with If-Match "*", delete, and the
 * two errors the SDK maps from the legacy body (DeviceNotFoundError, DeviceAlreadyExistsError).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Device, Registry } from 'azure-iothub';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { receive } from './helpers/device-raw.js';
import { send } from './helpers/send.js';

const T = { timeout: 30_000 };
const BASE64_KEY = /^[A-Za-z0-9+/]{40,}={0,2}$/;

let hub: HubProcess;
let registry: Registry;

before(async () => {
  hub = await startHub();
  registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
});

after(async () => {
  await hub?.stop();
});

function deviceCs(d: Device): string {
  return `HostName=${hub.address};DeviceId=${d.deviceId};SharedAccessKey=${d.authentication!.symmetricKey!.primaryKey}`;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('the call was expected to fail');
}

test('create with empty keys answers the new identity with generated keys', T, async () => {
  const { responseBody: d } = await registry.create({ deviceId: 'reg-create-1' });
  assert.equal(d.deviceId, 'reg-create-1');
  assert.equal(d.status, 'enabled');
  assert.ok(d.generationId, 'generationId is set');
  assert.ok(d.etag, 'etag is set');
  assert.equal(d.connectionState, 'Disconnected');
  assert.equal(d.cloudToDeviceMessageCount, 0);
  assert.equal((d.authentication as { type?: string } | undefined)?.type, 'sas');
  const keys = d.authentication?.symmetricKey;
  assert.match(keys?.primaryKey ?? '', BASE64_KEY, 'primary key generated');
  assert.match(keys?.secondaryKey ?? '', BASE64_KEY, 'secondary key generated');
  assert.notEqual(keys?.primaryKey, keys?.secondaryKey);
  // The generated key really authenticates the device: an empty queue answers 204.
  assert.equal(await receive(hub, deviceCs(d)), undefined);
});

test('create keeps keys the caller gave', T, async () => {
  const primaryKey = Buffer.alloc(32, 1).toString('base64');
  const secondaryKey = Buffer.alloc(32, 2).toString('base64');
  const { responseBody: d } = await registry.create({
    deviceId: 'reg-create-keys',
    authentication: { type: 'sas', symmetricKey: { primaryKey, secondaryKey } },
  });
  assert.equal(d.authentication?.symmetricKey?.primaryKey, primaryKey);
  assert.equal(d.authentication?.symmetricKey?.secondaryKey, secondaryKey);
});

test('get answers the stored identity, with the queue length read live', T, async () => {
  const { responseBody: created } = await registry.create({ deviceId: 'reg-get-1' });
  await send(hub, 'reg-get-1', { body: 'one' });
  await send(hub, 'reg-get-1', { body: 'two' });
  const { responseBody: d } = await registry.get('reg-get-1');
  assert.equal(d.deviceId, 'reg-get-1');
  assert.equal(d.generationId, created.generationId);
  assert.equal(d.etag, created.etag);
  assert.deepEqual(d.authentication?.symmetricKey, created.authentication?.symmetricKey);
  assert.equal(d.cloudToDeviceMessageCount, 2);
});

test('list answers every device (GET /devices/ with the trailing slash)', T, async () => {
  await registry.create({ deviceId: 'reg-list-a' });
  await registry.create({ deviceId: 'reg-list-b' });
  const { responseBody: devices } = await registry.list();
  assert.ok(Array.isArray(devices));
  const ids = devices.map((d) => d.deviceId);
  assert.ok(ids.includes('reg-list-a') && ids.includes('reg-list-b'), `list: ${ids.join(',')}`);
  const b = devices.find((d) => d.deviceId === 'reg-list-b');
  assert.match(b?.authentication?.symmetricKey?.primaryKey ?? '', BASE64_KEY);
});

test('update with If-Match "*" changes status and reason, keeps keys and generationId', T, async () => {
  const { responseBody: created } = await registry.create({ deviceId: 'reg-update-1' });
  const { responseBody: updated } = await registry.update({
    deviceId: 'reg-update-1',
    status: 'disabled',
    statusReason: 'maintenance',
    authentication: created.authentication,
  });
  assert.equal(updated.status, 'disabled');
  assert.equal(updated.statusReason, 'maintenance');
  assert.equal(updated.generationId, created.generationId);
  assert.deepEqual(updated.authentication?.symmetricKey, created.authentication?.symmetricKey);
  assert.notEqual(updated.etag, created.etag, 'an update gives a new etag');
  const { responseBody: d } = await registry.get('reg-update-1');
  assert.equal(d.status, 'disabled');
  assert.equal(d.statusReason, 'maintenance');

  // Without `authentication` the SDK sends empty keys; the update still succeeds and the device has keys.
  const { responseBody: again } = await registry.update({ deviceId: 'reg-update-1', status: 'enabled' });
  assert.equal(again.status, 'enabled');
  assert.match(again.authentication?.symmetricKey?.primaryKey ?? '', BASE64_KEY);
});

test(
  'delete removes the device; get then raises DeviceNotFoundError; a new one gets a new generationId',
  T,
  async () => {
    const { responseBody: created } = await registry.create({ deviceId: 'reg-delete-1' });
    await send(hub, 'reg-delete-1', { body: 'pending' });
    await registry.delete('reg-delete-1');
    const err = await rejection(registry.get('reg-delete-1'));
    assert.equal(err.name, 'DeviceNotFoundError');
    const { responseBody: devices } = await registry.list();
    assert.ok(!devices.some((d) => d.deviceId === 'reg-delete-1'));
    const { responseBody: reborn } = await registry.create({ deviceId: 'reg-delete-1' });
    assert.notEqual(reborn.generationId, created.generationId);
    // Deleting a device removes its queue (c2d-semantics.md 1.9).
    assert.equal(reborn.cloudToDeviceMessageCount, 0);
    assert.equal(await receive(hub, deviceCs(reborn)), undefined);
  },
);

test('get of an unknown device raises DeviceNotFoundError', T, async () => {
  const err = await rejection(registry.get('reg-never-created'));
  assert.equal(err.name, 'DeviceNotFoundError');
  assert.equal(err.constructor.name, 'DeviceNotFoundError');
});

test('a second create raises DeviceAlreadyExistsError and leaves the device unchanged', T, async () => {
  const { responseBody: first } = await registry.create({ deviceId: 'reg-twice' });
  const err = await rejection(registry.create({ deviceId: 'reg-twice' }));
  assert.equal(err.name, 'DeviceAlreadyExistsError');
  assert.equal(err.constructor.name, 'DeviceAlreadyExistsError');
  const { responseBody: d } = await registry.get('reg-twice');
  assert.equal(d.generationId, first.generationId);
  assert.deepEqual(d.authentication?.symmetricKey, first.authentication?.symmetricKey);
});
