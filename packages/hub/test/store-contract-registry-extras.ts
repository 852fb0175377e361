/** The bulk-write and CA-certificate parts of the store contract (see store-contract.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CaCertificateRecord, Store } from '../src/store/types.js';
import { device, T0 } from './store-contract-kit.js';

function ca(name: string, etag = 'c1', extra: Partial<CaCertificateRecord> = {}): CaCertificateRecord {
  return {
    name,
    etag,
    certificatePem: `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n`,
    isVerified: false,
    verificationCode: null,
    createdAt: T0,
    updatedAt: T0,
    ...extra,
  };
}

export function registryExtrasContract(kit: { readonly store: Store }): void {
  describe('bulk device writes', () => {
    test('each write gets the result its single-device method would give, in order', async () => {
      const { store } = kit;
      await store.insertDevice(device('a'));
      await store.insertDevice(device('b'));
      const results = await store.writeDevices([
        { kind: 'insert', device: device('c') },
        { kind: 'insert', device: device('a') },
        { kind: 'replace', device: { ...device('a', 'disabled'), etag: 'e2' }, expectedEtag: 'e1' },
        { kind: 'replace', device: { ...device('b'), etag: 'e9' }, expectedEtag: 'wrong' },
        { kind: 'replace', device: device('zz') },
        { kind: 'delete', deviceId: 'b', expectedEtag: 'wrong' },
        { kind: 'delete', deviceId: 'b' },
        { kind: 'delete', deviceId: 'b' },
        // A write sees the ones before it in the same call.
        { kind: 'insert', device: device('b', 'disabled') },
      ]);
      assert.deepEqual(results, [true, false, true, false, false, false, true, false, true]);
      assert.equal((await store.getDevice('a'))?.status, 'disabled');
      assert.equal((await store.getDevice('b'))?.status, 'disabled');
      assert.deepEqual(await store.countDevices(), { total: 3, enabled: 1, disabled: 2 });
      assert.deepEqual(await store.writeDevices([]), []);
    });
  });

  describe('CA certificates', () => {
    test('insert, get, list by name; a second insert of the same name is refused', async () => {
      const { store } = kit;
      assert.equal(await store.insertCaCertificate(ca('root-b')), true);
      assert.equal(await store.insertCaCertificate(ca('root-a', 'c1', { isVerified: true })), true);
      assert.equal(await store.insertCaCertificate(ca('root-a')), false);
      assert.deepEqual(await store.getCaCertificate('root-a'), ca('root-a', 'c1', { isVerified: true }));
      assert.equal(await store.getCaCertificate('nope'), undefined);
      assert.deepEqual(
        (await store.listCaCertificates()).map((c) => c.name),
        ['root-a', 'root-b'],
      );
    });

    test('replace and delete honour the etag', async () => {
      const { store } = kit;
      await store.insertCaCertificate(ca('r'));
      const next = ca('r', 'c2', { verificationCode: 'ABC', updatedAt: T0 + 1 });
      assert.equal(await store.replaceCaCertificate(next, 'wrong'), false);
      assert.equal(await store.replaceCaCertificate(next, 'c1'), true);
      assert.deepEqual(await store.getCaCertificate('r'), next);
      assert.equal(await store.replaceCaCertificate(ca('missing'), 'c1'), false);
      assert.equal(await store.deleteCaCertificate('r', 'c1'), false);
      assert.equal(await store.deleteCaCertificate('r', 'c2'), true);
      assert.equal(await store.deleteCaCertificate('r'), false);
      await store.insertCaCertificate(ca('s'));
      assert.equal(await store.deleteCaCertificate('s'), true);
      assert.deepEqual(await store.listCaCertificates(), []);
    });
  });
}
