/** Bulk registry writes (POST /devices): per-entry planning, errors and change notifications; X.509 auth types. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFerryError } from '@ferry/common';
import { ManualClock } from '../src/clock.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import type { DeviceIdentity } from '../src/registry/types.js';
import { FakeRegistryStore } from './registry-fake-store.js';

async function setup() {
  const store = new FakeRegistryStore();
  const registry = new DeviceRegistry({ store, engine: { queueDepth: async () => 0 }, clock: new ManualClock() });
  await registry.init();
  const changes: Array<[string, DeviceIdentity | undefined]> = [];
  registry.onDeviceChange((id, identity) => changes.push([id, identity]));
  return { store, registry, changes };
}

const codes = (r: { errors: Array<{ deviceId: string; errorCode: string }> }) =>
  r.errors.map((e) => `${e.deviceId}:${e.errorCode}`);

describe('DeviceRegistry bulk', () => {
  test('every import mode, eTag checks, and an error per failed entry', async () => {
    const { registry, changes } = await setup();
    const a = await registry.create({ deviceId: 'a' });
    const b = await registry.create({ deviceId: 'b' });
    await registry.create({ deviceId: 'c' });
    const result = await registry.bulk([
      { id: 'n1', importMode: 'create', status: 'disabled' },
      { id: 'n2', importMode: 'createOrUpdate' },
      { id: 'a', importMode: 'CreateOrUpdate', status: 'disabled' },
      { id: 'b', importMode: 'updateIfMatchETag', eTag: `"${b.etag}"`, statusReason: 'why' },
      { id: 'c', importMode: 'deleteIfMatchETag', eTag: 'stale' },
      { id: 'zz', importMode: 'update' },
      { id: 'zz2', importMode: 'delete' },
      { id: 'bad id!', importMode: 'create' },
      { id: 'n3', importMode: 'updateTwin' },
      { id: 'n4' },
      'not an object',
      { id: 'n5', importMode: 'create', authentication: { type: 'selfSigned' } },
      { id: 'n6', importMode: 'create', authentication: { type: 'certificateAuthority' } },
    ]);
    assert.equal(result.isSuccessful, false);
    assert.deepEqual(codes(result), [
      'c:EtagDoesNotMatch',
      'zz:DeviceNotFound',
      'zz2:DeviceNotFound',
      'bad id!:ArgumentInvalid',
      'n3:ArgumentInvalid',
      'n4:ArgumentInvalid',
      ':ArgumentInvalid',
      'n5:ArgumentInvalid',
    ]);
    assert.equal((await registry.get('n1')).status, 'disabled');
    assert.equal((await registry.get('n2')).authentication.type, 'sas');
    assert.equal((await registry.get('n6')).authentication.type, 'certificateAuthority');
    assert.equal((await registry.get('a')).status, 'disabled');
    assert.notEqual((await registry.get('a')).etag, a.etag);
    assert.equal((await registry.get('b')).statusReason, 'why');
    assert.equal((await registry.get('c')).deviceId, 'c');
    // Updates and deletes reach the gateways (a disabled device is cut off), creates do not.
    assert.deepEqual(
      changes.map(([id, identity]) => `${id}:${identity?.status}`),
      ['a:disabled', 'b:enabled'],
    );
    const del = await registry.bulk([
      { id: 'a', importMode: 'delete' },
      { id: 'b', importMode: 'deleteIfMatchETag', etag: (await registry.get('b')).etag },
    ]);
    assert.deepEqual(del, { isSuccessful: true, errors: [], warnings: [] });
    assert.deepEqual(changes.slice(2), [
      ['a', undefined],
      ['b', undefined],
    ]);
  });

  test('a body that is not 1 to 100 entries is refused as a whole', async () => {
    const { registry } = await setup();
    for (const body of [[], {}, 'x', Array.from({ length: 101 }, (_, i) => ({ id: `d${i}`, importMode: 'create' }))]) {
      await assert.rejects(registry.bulk(body), (err: unknown) => isFerryError(err, 'ArgumentInvalid'));
    }
    const hundred = Array.from({ length: 100 }, (_, i) => ({ id: `d${i}`, importMode: 'create' }));
    assert.equal((await registry.bulk(hundred)).isSuccessful, true);
    assert.equal((await registry.statistics()).totalDeviceCount, 100);
  });
});

describe('DeviceRegistry X.509 authentication types', () => {
  test('thumbprints are 40 or 64 hex digits, stored upper-case; selfSigned needs a primary one', async () => {
    const { registry } = await setup();
    const sha256 = 'ab'.repeat(32);
    const d = await registry.create({
      deviceId: 's1',
      authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: sha256, secondaryThumbprint: '' } },
    });
    assert.deepEqual(d.authentication.x509Thumbprint, {
      primaryThumbprint: 'AB'.repeat(32),
      secondaryThumbprint: null,
    });
    assert.equal(d.authentication.symmetricKey.primaryKey, null);
    for (const bad of ['AB'.repeat(19), 'zz'.repeat(20), 42]) {
      await assert.rejects(
        registry.create({
          deviceId: 's2',
          authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: bad } },
        }),
        (err: unknown) => isFerryError(err, 'ArgumentInvalid'),
      );
    }
    await assert.rejects(registry.create({ deviceId: 's3', authentication: { type: 'selfSigned' } }), (err: unknown) =>
      isFerryError(err, 'ArgumentInvalid'),
    );
    // certificateAuthority: no keys, no thumbprints; switching back to sas makes new keys.
    const ca = await registry.update('s1', { authentication: { type: 'certificateAuthority' } }, '*');
    assert.deepEqual(ca.authentication.x509Thumbprint, { primaryThumbprint: null, secondaryThumbprint: null });
    const sas = await registry.update('s1', { authentication: { type: 'sas' } }, '*');
    assert.equal(Buffer.from(sas.authentication.symmetricKey.primaryKey!, 'base64').length, 32);
  });
});
