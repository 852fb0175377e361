/**
 * Certificate chains judged as `openssl verify` judges them (issue 23): OpenSSL verifies every
 * client chain in the TLS handshake against the verified hub CAs. Chains made here: a CA with
 * pathlen:0 over an intermediate, an intermediate whose name constraints the leaf violates, one
 * without keyCertSign, an expired one, a good one, and a verified intermediate trusted on its
 * own. For each, `openssl verify` runs on the same certificates and the official device client
 * (x509=true) over MQTT, AMQP and HTTPS is accepted exactly when openssl accepts. Deleting or
 * un-verifying a CA cuts the connections authenticated through it (x509.disconnectOnCaRemoval).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KeyAndCert } from '@ferry/hub';
import common from 'azure-iot-common';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { makeCertificate, opensslVerify, withChain } from './helpers/chains.js';
import { send } from './helpers/send.js';
import { withTimeout } from './helpers/wait.js';
import {
  certificatesCall,
  openX509Device,
  refusal,
  type TransportName,
  uploadAndVerifyCa,
  type X509Device,
} from './helpers/x509.js';

const T = { timeout: 120_000 };
const DAY = 86_400_000;
const PROTOCOLS: readonly TransportName[] = ['Mqtt', 'Amqp', 'Http'];

interface ChainCase {
  name: string;
  /** OpenSSL's X509_V_ERR for this chain; undefined when it verifies. */
  expectError: number | undefined;
  leaf: KeyAndCert;
  intermediates: KeyAndCert[];
}

async function registerCaDevice(hub: HubProcess, deviceId: string): Promise<void> {
  await iothub.Registry.fromConnectionString(hub.ownerConnectionString).create({
    deviceId,
    authentication: { type: 'certificateAuthority' },
  } as iothub.Registry.DeviceDescription);
}

/** The device receives a C2D message over `transport`: it is connected and authorized. */
async function receives(hub: HubProcess, device: X509Device, deviceId: string, messageId: string): Promise<void> {
  await send(hub, deviceId, { messageId, body: messageId });
  assert.equal((await device.next(20_000)).messageId, messageId);
}

/** Resolves with what the client reports when the hub cuts it off (retries off, so it reports at once). */
function cutOff(device: X509Device): Promise<unknown> {
  device.client.setRetryPolicy(new common.NoRetry());
  return new Promise((resolve) => {
    device.client.once('disconnect', resolve);
    device.client.once('error', resolve);
  });
}

describe('X.509 chains: accepted on MQTT, AMQP and HTTPS exactly where openssl verify accepts', () => {
  let hub: HubProcess;
  const hubCas: KeyAndCert[] = [];
  const cases: ChainCase[] = [];

  before(async () => {
    hub = await startHub();
    const root = makeCertificate({ commonName: 'Chains root', ca: {} });
    const root0 = makeCertificate({ commonName: 'Chains root pathlen 0', ca: { pathLen: 0 } });
    const offline = makeCertificate({ commonName: 'Offline root (not on the hub)', ca: {} });
    const anchor = makeCertificate({ commonName: 'Verified intermediate', issuer: offline, ca: {} });
    await uploadAndVerifyCa(hub, 'root', root);
    await uploadAndVerifyCa(hub, 'pathlen0', root0);
    // An intermediate uploaded as verified (IoT Hub allows it): it anchors chains on its own.
    await certificatesCall(hub, 'PUT', '/intermediate', {
      properties: { certificate: anchor.certPem, isVerified: true },
    });
    hubCas.push(root, root0, anchor);

    const now = Date.now();
    const intermediates = {
      good: makeCertificate({ commonName: 'Good intermediate', issuer: root, ca: {} }),
      pathlen: makeCertificate({ commonName: 'Intermediate under pathlen 0', issuer: root0, ca: {} }),
      names: makeCertificate({
        commonName: 'Constrained intermediate',
        issuer: root,
        ca: {},
        permittedDns: ['allowed.example'],
      }),
      keyusage: makeCertificate({
        commonName: 'Intermediate without keyCertSign',
        issuer: root,
        ca: {},
        keyUsage: { digitalSignature: true },
      }),
      expired: makeCertificate({
        commonName: 'Expired intermediate',
        issuer: root,
        ca: {},
        notBefore: new Date(now - 10 * DAY),
        notAfter: new Date(now - DAY),
      }),
    };
    const leaf = (name: string, issuer: KeyAndCert, extra: { dnsNames?: string[] } = {}) =>
      makeCertificate({ commonName: `chain-${name}`, issuer, ...extra });
    cases.push(
      {
        name: 'good',
        expectError: undefined,
        leaf: leaf('good', intermediates.good),
        intermediates: [intermediates.good],
      },
      // X509_V_ERR_PATH_LENGTH_EXCEEDED
      {
        name: 'pathlen',
        expectError: 25,
        leaf: leaf('pathlen', intermediates.pathlen),
        intermediates: [intermediates.pathlen],
      },
      // X509_V_ERR_PERMITTED_VIOLATION
      {
        name: 'names',
        expectError: 47,
        leaf: leaf('names', intermediates.names, { dnsNames: ['dev.forbidden.example'] }),
        intermediates: [intermediates.names],
      },
      // X509_V_ERR_KEYUSAGE_NO_CERTSIGN
      {
        name: 'keyusage',
        expectError: 32,
        leaf: leaf('keyusage', intermediates.keyusage),
        intermediates: [intermediates.keyusage],
      },
      // X509_V_ERR_CERT_HAS_EXPIRED
      {
        name: 'expired',
        expectError: 10,
        leaf: leaf('expired', intermediates.expired),
        intermediates: [intermediates.expired],
      },
      // The device sends its leaf alone; the verified intermediate is the trust anchor.
      { name: 'anchor', expectError: undefined, leaf: leaf('anchor', anchor), intermediates: [] },
    );
    for (const c of cases) await registerCaDevice(hub, `chain-${c.name}`);
  });

  after(async () => {
    await hub?.stop();
  });

  const names = ['good', 'pathlen', 'names', 'keyusage', 'expired', 'anchor'];
  for (const name of names) {
    test(`${name}: the official client over MQTT, AMQP and HTTPS gets openssl verify's verdict`, T, async () => {
      const c = cases.find((x) => x.name === name)!;
      const deviceId = `chain-${name}`;
      const verdict = opensslVerify(hubCas, c.leaf, c.intermediates);
      // openssl verify goes on after an error and lists each; the TLS handshake reports the first.
      if (c.expectError !== undefined) assert.ok(verdict.errors.includes(c.expectError), verdict.output);
      assert.equal(verdict.ok, c.expectError === undefined, verdict.output);
      const presented = withChain(c.leaf, ...c.intermediates);
      for (const transport of PROTOCOLS) {
        if (verdict.ok) {
          const device = await openX509Device(hub, deviceId, presented, transport);
          try {
            await receives(hub, device, deviceId, `${name}-${transport}`);
          } finally {
            await device.close();
          }
        } else {
          const err = await refusal(hub, deviceId, presented, transport);
          assert.ok(err, `${transport}: refused`);
          assert.equal(
            err.constructor.name,
            'UnauthorizedError',
            `${transport}: ${err.constructor.name} ${err.message}`,
          );
        }
      }
    });
  }
});

describe('deleting or un-verifying a CA cuts the connections authenticated through it', () => {
  let hub: HubProcess;

  before(async () => {
    hub = await startHub();
  });

  after(async () => {
    await hub?.stop();
  });

  test(
    'a CA deleted while its devices are connected: MQTT and AMQP cut, HTTPS and new connections refused',
    T,
    async () => {
      const root = makeCertificate({ commonName: 'Revocable root', ca: {} });
      const intermediate = makeCertificate({ commonName: 'Revocable intermediate', issuer: root, ca: {} });
      // Another verified CA stays: only connections through the deleted one go.
      const otherRoot = makeCertificate({ commonName: 'Staying root', ca: {} });
      await uploadAndVerifyCa(hub, 'revocable', root);
      await uploadAndVerifyCa(hub, 'staying', otherRoot);
      const certs = new Map<string, KeyAndCert>();
      for (const id of ['revoke-mqtt', 'revoke-amqp', 'revoke-http']) {
        await registerCaDevice(hub, id);
        certs.set(id, withChain(makeCertificate({ commonName: id, issuer: intermediate }), intermediate));
      }
      await registerCaDevice(hub, 'stay-mqtt');
      const staying = await openX509Device(
        hub,
        'stay-mqtt',
        makeCertificate({ commonName: 'stay-mqtt', issuer: otherRoot }),
        'Mqtt',
      );
      const mqtt = await openX509Device(hub, 'revoke-mqtt', certs.get('revoke-mqtt')!, 'Mqtt');
      const amqp = await openX509Device(hub, 'revoke-amqp', certs.get('revoke-amqp')!, 'Amqp');
      try {
        await receives(hub, mqtt, 'revoke-mqtt', 'before-mqtt');
        await receives(hub, amqp, 'revoke-amqp', 'before-amqp');
        const mqttCut = cutOff(mqtt);
        const amqpCut = cutOff(amqp);

        await certificatesCall(hub, 'DELETE', '/revocable', undefined, 204);
        await withTimeout(mqttCut, 15_000, 'the MQTT client cut off after the CA was deleted');
        const why = (await withTimeout(amqpCut, 15_000, 'the AMQP client cut off after the CA was deleted')) as {
          transportObj?: Error;
        };
        assert.equal(why.transportObj?.name, 'UnauthorizedError');

        for (const [id, transport] of [
          ['revoke-mqtt', 'Mqtt'],
          ['revoke-amqp', 'Amqp'],
          ['revoke-http', 'Http'],
        ] as const) {
          const err = await refusal(hub, id, certs.get(id)!, transport);
          assert.equal(err?.constructor.name, 'UnauthorizedError', `${transport} after the deletion: ${err?.message}`);
        }
        // The device of the CA that stays is still connected.
        await receives(hub, staying, 'stay-mqtt', 'after-delete');
      } finally {
        await Promise.all([mqtt.close(), amqp.close(), staying.close()]);
      }
    },
  );

  test('a CA replaced (un-verified until proven again) cuts its MQTT device', T, async () => {
    const root = makeCertificate({ commonName: 'Re-uploaded root', ca: {} });
    await uploadAndVerifyCa(hub, 'reuploaded', root);
    await registerCaDevice(hub, 'unverified-mqtt');
    const device = await openX509Device(
      hub,
      'unverified-mqtt',
      makeCertificate({ commonName: 'unverified-mqtt', issuer: root }),
      'Mqtt',
    );
    try {
      await receives(hub, device, 'unverified-mqtt', 'before-unverify');
      const cut = cutOff(device);
      const replaced = await certificatesCall(
        hub,
        'PUT',
        '/reuploaded',
        { properties: { certificate: root.certPem } },
        200,
        { 'if-match': '*' },
      );
      assert.equal(replaced.properties.isVerified, false);
      await withTimeout(cut, 15_000, 'the MQTT client cut off after the CA was un-verified');
    } finally {
      await device.close();
    }
  });
});

describe('x509.disconnectOnCaRemoval false: a deleted CA refuses new connections only', () => {
  let hub: HubProcess;

  before(async () => {
    hub = await startHub({ config: { x509: { disconnectOnCaRemoval: false } } });
  });

  after(async () => {
    await hub?.stop();
  });

  test('the connected MQTT device keeps receiving; a new connection is refused', T, async () => {
    const root = makeCertificate({ commonName: 'Kept root', ca: {} });
    await uploadAndVerifyCa(hub, 'kept', root);
    await registerCaDevice(hub, 'kept-mqtt');
    const cert = makeCertificate({ commonName: 'kept-mqtt', issuer: root });
    const device = await openX509Device(hub, 'kept-mqtt', cert, 'Mqtt');
    try {
      // The DELETE is answered once this node has read the CAs again and cut what it cuts.
      await certificatesCall(hub, 'DELETE', '/kept', undefined, 204);
      await receives(hub, device, 'kept-mqtt', 'after-delete');
      assert.deepEqual(device.errors, []);
      const err = await refusal(hub, 'kept-mqtt', cert, 'Amqp');
      assert.equal(err?.constructor.name, 'UnauthorizedError', String(err?.message));
    } finally {
      await device.close();
    }
  });
});
