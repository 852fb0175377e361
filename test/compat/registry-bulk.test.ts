/**
 * Bulk registry writes with the official azure-iothub Registry (issue 14 "Verified by"):
 * addDevices / updateDevices / removeDevices with 100 devices a call, per-device errors in IoT
 * Hub's BulkRegistryOperationResult (the call fails with ArgumentError, the body says which).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import iothub from 'azure-iothub';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { assertHubError } from './helpers/hub-error.js';
import { API } from './helpers/send.js';

const T = { timeout: 60_000 };

interface BulkResult {
  isSuccessful: boolean;
  errors: Array<{ deviceId: string; errorCode: string; errorStatus: string }>;
  warnings: unknown[];
}

type Device = iothub.Registry.DeviceDescription;

/** The BulkRegistryOperationResult of a call: its result when it succeeded, the 400 body when not. */
async function bulk(call: () => Promise<{ responseBody: unknown }>): Promise<BulkResult> {
  try {
    return (await call()).responseBody as BulkResult;
  } catch (err) {
    const e = err as Error & { responseBody?: string; response?: { statusCode?: number } };
    assert.equal(e.constructor.name, 'ArgumentError', `a failed bulk call is a 400: ${e.message}`);
    assert.equal(e.response?.statusCode, 400);
    return JSON.parse(e.responseBody!) as BulkResult;
  }
}

const ids = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
const THUMB = 'A1'.repeat(20);

describe('bulk registry with the official Registry', () => {
  let hub: HubProcess;
  // A fresh Registry per call: a keep-alive socket idle past the hub's timeout may be closed under it.
  const registry = () => iothub.Registry.fromConnectionString(hub.ownerConnectionString);
  const count = async () => (await registry().getRegistryStatistics()).responseBody.totalDeviceCount;

  before(async () => {
    hub = await startHub();
  });
  after(async () => {
    await hub?.stop();
  });

  test('addDevices: 100 devices (SAS and x509 thumbprints) in one call', T, async () => {
    const devices: Device[] = ids('bulk', 100).map((deviceId, i) =>
      i % 10 === 0
        ? { deviceId, authentication: { x509Thumbprint: { primaryThumbprint: THUMB, secondaryThumbprint: null } } }
        : { deviceId },
    ) as Device[];
    const result = await bulk(() => registry().addDevices(devices));
    assert.deepEqual(result, { isSuccessful: true, errors: [], warnings: [] });
    assert.equal(await count(), 100);
    const { responseBody: x509 } = await registry().get('bulk-000');
    assert.equal(x509.authentication?.x509Thumbprint?.primaryThumbprint, THUMB);
    const { responseBody: sas } = await registry().get('bulk-001');
    assert.equal(Buffer.from(sas.authentication?.symmetricKey?.primaryKey ?? '', 'base64').length, 32);
  });

  test(
    'addDevices with per-device errors: existing ids, a bad thumbprint, a repeated id; the rest is created',
    T,
    async () => {
      const fresh = ids('more', 96).map((deviceId) => ({ deviceId })) as Device[];
      const devices = [
        { deviceId: 'bulk-005' },
        ...fresh.slice(0, 48),
        { deviceId: 'bulk-050' },
        { deviceId: 'bad-thumb', authentication: { x509Thumbprint: { primaryThumbprint: 'not-hex' } } },
        ...fresh.slice(48),
        { deviceId: 'more-000' },
      ] as Device[];
      assert.equal(devices.length, 100);
      const result = await bulk(() => registry().addDevices(devices));
      assert.equal(result.isSuccessful, false);
      assert.deepEqual(
        result.errors.map((e) => [e.deviceId, e.errorCode]),
        [
          ['bulk-005', 'DeviceAlreadyExists'],
          ['bulk-050', 'DeviceAlreadyExists'],
          ['bad-thumb', 'ArgumentInvalid'],
          ['more-000', 'DeviceDefinedMultipleTimes'],
        ],
      );
      for (const e of result.errors) assert.ok(e.errorStatus.length > 0);
      assert.equal(await count(), 196);
    },
  );

  test('updateDevices (etags and forced) and removeDevices, with per-device errors', T, async () => {
    const current = (await registry().list()).responseBody.filter((d) => d.deviceId.startsWith('bulk-'));
    assert.equal(current.length, 100);
    const updates = current.map((d) => ({ deviceId: d.deviceId, etag: d.etag, status: 'disabled' })) as Device[];
    updates[7]!.etag = 'c3RhbGU=';
    const byEtag = await bulk(() => registry().updateDevices(updates, false));
    assert.deepEqual(
      byEtag.errors.map((e) => [e.deviceId, e.errorCode]),
      [['bulk-007', 'EtagDoesNotMatch']],
    );
    assert.equal((await registry().getRegistryStatistics()).responseBody.disabledDeviceCount, 99);
    const forced = await bulk(() =>
      registry().updateDevices([{ deviceId: 'bulk-007', status: 'disabled' } as Device], true),
    );
    assert.equal(forced.isSuccessful, true);
    assert.equal((await registry().get('bulk-007')).responseBody.status, 'disabled');

    const removals = ids('bulk', 99).map((deviceId) => ({ deviceId })) as Device[];
    removals.push({ deviceId: 'never-registered' } as Device);
    const removed = await bulk(() => registry().removeDevices(removals, true));
    assert.deepEqual(
      removed.errors.map((e) => [e.deviceId, e.errorCode]),
      [['never-registered', 'DeviceNotFound']],
    );
    assert.equal(await count(), 97);
    await assert.rejects(registry().get('bulk-000'), (err: Error) => err.constructor.name === 'DeviceNotFoundError');
    // The SDK refuses more than 100 itself; the hub refuses them too, as a whole.
    const tooMany = ids('x', 101).map((id) => ({ id, importMode: 'create' }));
    const res = await hubRequest(hub, 'POST', `/devices?${API}`, {
      headers: { authorization: serviceSas(hub, 'iothubowner'), 'content-type': 'application/json' },
      body: JSON.stringify(tooMany),
    });
    assertHubError(res, 400, 'ArgumentInvalid', 'bulk of 101');
    assert.equal(await count(), 97);
  });
});
