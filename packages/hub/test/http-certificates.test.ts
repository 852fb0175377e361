/** The certificates REST API and bulk POST /devices over the HTTP gateway: shapes, permissions, errors. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestCa, issueCertificate } from '../src/tls/device-certs.js';
import { API, type HttpHarness, hubError, startHttpHarness } from './http-harness.js';

describe('HTTP /certificates and bulk /devices', () => {
  let h: HttpHarness;
  before(async () => {
    h = await startHttpHarness();
  });
  after(() => h.close());

  const call = (method: string, path: string, body?: unknown, policy = 'iothubowner', headers = {}) =>
    h.request(method, `${path}?${API}`, {
      headers: { authorization: h.serviceToken(policy), 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  test('upload, code, proof, list: IoT Hub CertificateDescription JSON, ETag headers and If-Match', async () => {
    const ca = createTestCa('Http Root', { now: h.clock.now() });
    const up = await call('PUT', '/certificates/root', { properties: { certificate: ca.certPem } });
    assert.equal(up.status, 200);
    const desc = up.json() as { name: string; etag: string; type: string; properties: Record<string, unknown> };
    assert.equal(up.headers.etag, `"${desc.etag}"`);
    assert.equal(desc.type, 'Microsoft.Devices/IotHubs/Certificates');
    assert.deepEqual(Object.keys(desc.properties).sort(), [
      'certificate',
      'created',
      'expiry',
      'isVerified',
      'subject',
      'thumbprint',
      'updated',
    ]);
    const stale = await call('POST', '/certificates/root/generateVerificationCode', undefined, 'iothubowner', {
      'if-match': '"nope"',
    });
    assert.equal(stale.status, 412);
    const code = await call('POST', '/certificates/root/generateVerificationCode', undefined, 'iothubowner', {
      'if-match': `"${desc.etag}"`,
    });
    const verificationCode = (code.json() as { properties: { verificationCode: string } }).properties.verificationCode;
    const proof = issueCertificate(ca, verificationCode, { now: h.clock.now() });
    const verified = await call('POST', '/certificates/root/verify', { certificate: proof.certPem });
    assert.equal(verified.status, 200);
    assert.equal((verified.json() as { properties: { isVerified: boolean } }).properties.isVerified, true);
    const list = await call('GET', '/certificates', undefined, 'registryRead');
    assert.deepEqual(
      (list.json() as { value: Array<{ name: string }> }).value.map((c) => c.name),
      ['root'],
    );
  });

  test('reading needs RegistryRead, writing RegistryWrite; a device or service token is refused', async () => {
    // A small body: the token is refused before the body is read.
    const put = await call('PUT', '/certificates/perm', { properties: { certificate: 'x' } }, 'registryRead');
    assert.equal(put.status, 401);
    assert.equal(hubError(put).code, 'IotHubUnauthorizedAccess');
    assert.equal((await call('GET', '/certificates', undefined, 'service')).status, 401);
    assert.equal((await call('DELETE', '/certificates/root', undefined, 'registryRead')).status, 401);
    const missing = await call('GET', '/certificates/none');
    assert.equal(missing.status, 404);
    assert.equal(hubError(missing).code, 'NotFound');
    const garbage = await call('PUT', '/certificates/x', { properties: { certificate: 'garbage' } });
    assert.equal(garbage.status, 400);
    assert.equal(hubError(garbage).code, 'ArgumentInvalid');
    assert.equal((await call('DELETE', '/certificates/root')).status, 204);
  });

  test('bulk POST /devices: 200 when all succeed, 400 with the result when some fail, RegistryWrite only', async () => {
    const ok = await call('POST', '/devices', [{ id: 'b1', importMode: 'create' }]);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { isSuccessful: true, errors: [], warnings: [] });
    const some = await call('POST', '/devices', [
      { id: 'b1', importMode: 'create' },
      { id: 'b2', importMode: 'create' },
    ]);
    assert.equal(some.status, 400);
    assert.deepEqual(some.json(), {
      isSuccessful: false,
      errors: [{ deviceId: 'b1', errorCode: 'DeviceAlreadyExists', errorStatus: 'A device with id b1 already exists' }],
      warnings: [],
    });
    assert.equal((await call('POST', '/devices', [{ id: 'b3', importMode: 'create' }], 'registryRead')).status, 401);
    const notArray = await call('POST', '/devices', { id: 'b4' });
    assert.equal(hubError(notArray).code, 'ArgumentInvalid');
    assert.equal((await h.registry.statistics()).totalDeviceCount, 2);
  });
});
