/** X.509 device authentication and the hub's CA certificates (proof of possession), over a real SQLite store. */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type ErrorName, isFerryError } from '@ferry/common';
import forge from 'node-forge';
import { type ClientCertificate, commonNameOf, thumbprintsOf, X509Authenticator } from '../src/auth/x509.js';
import { ManualClock } from '../src/clock.js';
import { CaCertificates } from '../src/registry/ca-certificates.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { createTestCa, issueCertificate, selfSignedCertificate } from '../src/tls/device-certs.js';
import type { KeyAndCert } from '../src/tls/pki.js';

const DAY = 86_400_000;
const x509 = (k: KeyAndCert) => new X509Certificate(k.certPem);
/** What a TLS listener reports: the chain leaf first and OpenSSL's verdict (undefined = verified). */
const tls = (chain: readonly X509Certificate[], verifyError?: string): ClientCertificate => ({ chain, verifyError });
/** A self-signed certificate as OpenSSL reports it. */
const selfTls = (k: KeyAndCert) => tls([x509(k)], 'DEPTH_ZERO_SELF_SIGNED_CERT');

async function rejectsWith(p: Promise<unknown>, name: ErrorName, text?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isFerryError(err, name), `expected ${name}, got ${String(err)}`);
    if (text) assert.match((err as Error).message, text);
    return true;
  });
}

describe('X.509 device authentication', () => {
  const clock = new ManualClock(Date.now());
  const store = new SqliteStore({ path: ':memory:' });
  const registry = new DeviceRegistry({ store, engine: { queueDepth: async () => 0 }, clock });
  const cas = new CaCertificates(store, clock);
  const auth = new X509Authenticator({ registry, caCertificates: cas, clock });
  let ca: KeyAndCert;
  let otherCa: KeyAndCert;
  let self: KeyAndCert;
  let self2: KeyAndCert;

  before(async () => {
    await registry.init();
    ca = createTestCa('Test Root');
    otherCa = createTestCa('Unverified Root');
    self = selfSignedCertificate('self1');
    self2 = selfSignedCertificate('self1');
    const { sha1 } = thumbprintsOf(x509(self));
    const { sha256 } = thumbprintsOf(x509(self2));
    await registry.create({
      deviceId: 'self1',
      authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: sha1, secondaryThumbprint: sha256 } },
    });
    await registry.create({ deviceId: 'ca1', authentication: { type: 'certificateAuthority' } });
    await registry.create({ deviceId: 'sas1' });
    await cas.put('root', { properties: { certificate: ca.certPem } }, undefined);
    await cas.put('other', { properties: { certificate: otherCa.certPem } }, undefined);
  });
  after(() => store.close());

  test('selfSigned: the SHA-1 primary or SHA-256 secondary thumbprint is accepted, another certificate is not', async () => {
    assert.deepEqual(await auth.authenticate('self1', selfTls(self)), {
      kind: 'device',
      deviceId: 'self1',
      expiresAt: Date.parse(x509(self).validTo),
    });
    assert.equal((await auth.authenticate('self1', selfTls(self2))).kind, 'device');
    await rejectsWith(
      auth.authenticate('self1', selfTls(selfSignedCertificate('self1'))),
      'IotHubUnauthorizedAccess',
      /Thumbprint does not match/,
    );
    await rejectsWith(auth.authenticate('nobody', selfTls(self)), 'IotHubUnauthorizedAccess');
    await rejectsWith(auth.authenticate('sas1', selfTls(self)), 'IotHubUnauthorizedAccess', /sas/);
    await rejectsWith(auth.authenticate('self1', tls([])), 'IotHubUnauthorizedAccess');
  });

  test('an expired or not-yet-valid certificate is refused even with the right thumbprint', async () => {
    const now = clock.now();
    const expired = selfSignedCertificate('e', { notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
    const future = selfSignedCertificate('f', { notBefore: new Date(now + DAY), notAfter: new Date(now + 10 * DAY) });
    await registry.create({
      deviceId: 'dated',
      authentication: {
        type: 'selfSigned',
        x509Thumbprint: {
          primaryThumbprint: thumbprintsOf(x509(expired)).sha1,
          secondaryThumbprint: thumbprintsOf(x509(future)).sha1,
        },
      },
    });
    await rejectsWith(auth.authenticate('dated', selfTls(expired)), 'IotHubUnauthorizedAccess', /expired/);
    await rejectsWith(auth.authenticate('dated', selfTls(future)), 'IotHubUnauthorizedAccess', /not valid before/);
  });

  test('certificateAuthority: OpenSSL verified the chain to a CA that is still a VERIFIED hub CA, and CN = device id', async () => {
    const leaf = issueCertificate(ca, 'ca1');
    // Verified by a TLS context that trusted the CA, but the CA is not verified (any more): refused.
    await rejectsWith(auth.authenticate('ca1', tls([x509(leaf), x509(ca)])), 'IotHubUnauthorizedAccess', /verified CA/);
    const { properties } = await cas.generateVerificationCode('root', undefined);
    const proof = issueCertificate(ca, properties.verificationCode!);
    assert.equal((await cas.verify('root', { certificate: proof.certPem }, undefined)).properties.isVerified, true);
    const principal = await auth.authenticate('ca1', tls([x509(leaf), x509(ca)]));
    assert.deepEqual(principal, {
      kind: 'device',
      deviceId: 'ca1',
      expiresAt: Date.parse(x509(leaf).validTo),
      viaCas: [x509(ca).fingerprint256],
    });
    // OpenSSL's refusal is final, whatever the chain looks like.
    await rejectsWith(
      auth.authenticate('ca1', tls([x509(leaf), x509(ca)], 'PATH_LENGTH_EXCEEDED')),
      'IotHubUnauthorizedAccess',
      /PATH_LENGTH_EXCEEDED/,
    );
    // The common name must be the device id.
    const other = issueCertificate(ca, 'ca2');
    await rejectsWith(auth.authenticate('ca1', tls([x509(other), x509(ca)])), 'IotHubUnauthorizedAccess', /ca2/);
    // Verified to a CA the hub holds unverified only: refused.
    const viaOther = issueCertificate(otherCa, 'ca1');
    await rejectsWith(auth.authenticate('ca1', tls([x509(viaOther), x509(otherCa)])), 'IotHubUnauthorizedAccess');
    // A chain no longer valid now (a resumed TLS session is not verified again): refused.
    const now = clock.now();
    const expired = issueCertificate(ca, 'ca1', { notBefore: new Date(now - 2 * DAY), notAfter: new Date(now - DAY) });
    await rejectsWith(auth.authenticate('ca1', tls([x509(expired), x509(ca)])), 'IotHubUnauthorizedAccess', /expired/);
    // The hub CA found above the chain's top: the expiry is the earliest of the chain's.
    const intermediate = issueCertificateAuthority(ca, 'Intermediate');
    const viaIntermediate = issueCertificate(intermediate, 'ca1', { validityDays: 3 });
    const through = await auth.authenticate('ca1', tls([x509(viaIntermediate), x509(intermediate), x509(ca)]));
    assert.equal(through.expiresAt, Date.parse(x509(viaIntermediate).validTo));
    assert.deepEqual(through.kind === 'device' && through.viaCas, [x509(ca).fingerprint256]);
    // A selfSigned device's certificate is judged by thumbprint, never by a chain.
    await rejectsWith(
      auth.authenticate('self1', tls([x509(leaf), x509(ca)])),
      'IotHubUnauthorizedAccess',
      /Thumbprint/,
    );
  });

  test('a disabled device is DeviceDisabled only once its certificate is proven', async () => {
    const c = selfSignedCertificate('off');
    await registry.create({
      deviceId: 'off',
      status: 'disabled',
      authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumbprintsOf(x509(c)).sha256 } },
    });
    await rejectsWith(auth.authenticate('off', selfTls(c)), 'DeviceDisabled');
    await rejectsWith(auth.authenticate('off', selfTls(self)), 'IotHubUnauthorizedAccess');
  });

  test('commonNameOf undoes the escaping of special characters', () => {
    for (const cn of ['dev,1+=;', "O'x#*?!()$@:%", 'plain']) {
      assert.equal(commonNameOf(x509(selfSignedCertificate(cn))), cn);
    }
  });
});

/** An intermediate CA signed by `ca` (issueCertificate makes leaves only). */
function issueCertificateAuthority(ca: KeyAndCert, commonName: string): KeyAndCert {
  const made = createTestCa(commonName);
  // Re-sign the new CA's certificate with the parent's key, keeping its own key pair.
  return resign(made, ca);
}

function resign(child: KeyAndCert, parent: KeyAndCert): KeyAndCert {
  const cert = forge.pki.certificateFromPem(child.certPem);
  const parentCert = forge.pki.certificateFromPem(parent.certPem);
  cert.setIssuer(parentCert.subject.attributes);
  cert.sign(forge.pki.privateKeyFromPem(parent.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: child.keyPem };
}

describe('CA certificates (IoT Hub CertificateDescription)', () => {
  const clock = new ManualClock(Date.now());
  const store = new SqliteStore({ path: ':memory:' });
  const cas = new CaCertificates(store, clock);
  after(() => store.close());

  test('upload, list, get, verification code, proof of possession, delete; etags guard each step', async () => {
    const ca = createTestCa('PoP Root');
    const up = await cas.put('pop', { properties: { certificate: ca.certPem } }, undefined);
    assert.equal(up.name, 'pop');
    assert.equal(up.properties.isVerified, false);
    assert.equal(up.properties.thumbprint, thumbprintsOf(x509(ca)).sha1);
    assert.match(up.properties.subject, /CN=PoP Root/);
    assert.equal(up.properties.expiry, new Date(Date.parse(x509(ca).validTo)).toUTCString());
    assert.deepEqual(
      (await cas.list()).map((c) => c.name),
      ['pop'],
    );
    await rejectsWith(cas.put('pop', { properties: { certificate: ca.certPem } }, undefined), 'PreconditionFailed');

    await rejectsWith(cas.verify('pop', { certificate: ca.certPem }, undefined), 'ArgumentInvalid', /first/);
    await rejectsWith(cas.generateVerificationCode('pop', '"stale"'), 'PreconditionFailed');
    const withCode = await cas.generateVerificationCode('pop', up.etag);
    const code = withCode.properties.verificationCode!;
    assert.match(code, /^[0-9A-F]{48}$/);
    // Signed by another key, or with the wrong common name: no proof.
    const other = createTestCa('Impostor');
    await rejectsWith(
      cas.verify('pop', { certificate: issueCertificate(other, code).certPem }, undefined),
      'ArgumentInvalid',
    );
    await rejectsWith(
      cas.verify('pop', { certificate: issueCertificate(ca, 'not-the-code').certPem }, undefined),
      'ArgumentInvalid',
    );
    const der = x509(issueCertificate(ca, code)).raw.toString('base64');
    const verified = await cas.verify('pop', { certificate: der }, `"${withCode.etag}"`);
    assert.equal(verified.properties.isVerified, true);
    assert.equal(verified.properties.verificationCode, undefined);
    assert.equal((await cas.verifiedCaCertificates()).length, 1);

    // Replacing the certificate makes it unverified again.
    const replaced = await cas.put('pop', { properties: { certificate: ca.certPem } }, '*');
    assert.equal(replaced.properties.isVerified, false);
    assert.equal((await cas.verifiedCaCertificates()).length, 0);
    await rejectsWith(cas.delete('pop', '"stale"'), 'PreconditionFailed');
    await cas.delete('pop', replaced.etag);
    await rejectsWith(cas.get('pop'), 'NotFound');
  });

  test('bad input: names, non-CA and expired certificates, garbage', async () => {
    const ca = createTestCa('Root');
    await rejectsWith(cas.put('bad name!', { properties: { certificate: ca.certPem } }, undefined), 'ArgumentInvalid');
    await rejectsWith(cas.put('x', { properties: { certificate: 'not a cert' } }, undefined), 'ArgumentInvalid');
    await rejectsWith(cas.put('x', { properties: {} }, undefined), 'ArgumentInvalid');
    await rejectsWith(cas.put('x', [], undefined), 'ArgumentInvalid');
    await rejectsWith(
      cas.put('x', { properties: { certificate: selfSignedCertificate('leaf').certPem } }, undefined),
      'ArgumentInvalid',
      /not a CA/,
    );
    const now = clock.now();
    const old = createTestCa('Old', { notBefore: new Date(now - 3 * DAY), notAfter: new Date(now - DAY) });
    await rejectsWith(
      cas.put('x', { properties: { certificate: old.certPem } }, undefined),
      'ArgumentInvalid',
      /expired/,
    );
    const trusted = await cas.put('x', { properties: { certificate: ca.certPem, isVerified: true } }, undefined);
    assert.equal(trusted.properties.isVerified, true);
  });
});
