/**
 * X.509 devices with the official clients (issue 14 "Verified by"): azure-iothub's Registry
 * registers them, the CA is uploaded and proven through REST, and azure-iot-device with
 * `x509=true` + setOptions({ cert, key }) receives and completes C2D over Mqtt, MqttWs, Amqp,
 * AmqpWs and Http. Another device's certificate, an expired one and one from an unverified CA are
 * refused with UnauthorizedError (Http: from sendEvent, since the hub authenticates before it
 * routes). A SAS device on the same ports keeps working.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTestCa, issueCertificate, type KeyAndCert, selfSignedCertificate, thumbprintsOf } from '@ferry/hub';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { expectFeedback } from './helpers/feedback.js';
import { send } from './helpers/send.js';
import { withTimeout } from './helpers/wait.js';
import { certificatesCall, openX509Device, refusal, TRANSPORTS, uploadAndVerifyCa } from './helpers/x509.js';
import { openMqttDevice } from './mqtt-helpers.js';

const T = { timeout: 120_000 };
const DAY = 86_400_000;
const sha1 = (k: KeyAndCert) => thumbprintsOf(new X509Certificate(k.certPem)).sha1;
const sha256 = (k: KeyAndCert) => thumbprintsOf(new X509Certificate(k.certPem)).sha256;

describe('X.509 devices with the official clients', () => {
  let hub: HubProcess;
  let registry: iothub.Registry;
  let ca: KeyAndCert;
  let unverifiedCa: KeyAndCert;
  const selfCerts = new Map<string, KeyAndCert>();

  before(async () => {
    hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
    registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
    ca = createTestCa('Ferry compat root');
    unverifiedCa = createTestCa('Ferry compat unverified root');
    await uploadAndVerifyCa(hub, 'root', ca);
    // Uploaded, never proven: devices under it must be refused.
    await certificatesCall(hub, 'PUT', '/unproven', { properties: { certificate: unverifiedCa.certPem } });
    for (const transport of TRANSPORTS) {
      const cert = selfSignedCertificate(`self-${transport}`);
      selfCerts.set(transport, cert);
      // The SDK turns an x509Thumbprint without type into selfSigned; SHA-256 as the secondary.
      const { responseBody } = await registry.create({
        deviceId: `self-${transport}`,
        authentication: { x509Thumbprint: { primaryThumbprint: sha1(cert), secondaryThumbprint: sha256(cert) } },
      } as iothub.Registry.DeviceDescription);
      assert.equal((responseBody.authentication as { type?: string } | undefined)?.type, 'selfSigned');
      await registry.create({
        deviceId: `ca-${transport}`,
        authentication: { type: 'certificateAuthority' },
      } as iothub.Registry.DeviceDescription);
    }
  });

  after(async () => {
    await hub?.stop();
  });

  for (const transport of TRANSPORTS) {
    test(
      `${transport}: a self-signed and a CA-signed device each receive and complete C2D (Success feedback)`,
      T,
      async () => {
        const devices = [
          { id: `self-${transport}`, cert: selfCerts.get(transport)! },
          { id: `ca-${transport}`, cert: issueCertificate(ca, `ca-${transport}`) },
        ];
        for (const { id, cert } of devices) {
          const device = await openX509Device(hub, id, cert, transport);
          try {
            await send(hub, id, { body: `hello ${id}`, messageId: `m-${id}`, ack: 'full' });
            const m = await device.next();
            assert.equal(m.messageId, `m-${id}`);
            assert.equal(m.data.toString(), `hello ${id}`);
            await expectFeedback(hub, [{ originalMessageId: `m-${id}`, deviceId: id, statusCode: 'Success' }], {
              timeoutMs: 20_000,
            });
            assert.deepEqual(device.errors, []);
          } finally {
            await device.close();
          }
        }
      },
    );

    test(
      `${transport}: another device's, an expired and an unverified CA's certificate are refused with UnauthorizedError`,
      T,
      async () => {
        const now = Date.now();
        const expired = selfSignedCertificate(`self-${transport}`, {
          notBefore: new Date(now - 10 * DAY),
          notAfter: new Date(now - DAY),
        });
        const expiredId = `expired-${transport}`;
        // A fresh Registry: the first one's keep-alive socket may have been closed while idle.
        await iothub.Registry.fromConnectionString(hub.ownerConnectionString).create({
          deviceId: expiredId,
          authentication: { x509Thumbprint: { primaryThumbprint: sha1(expired) } },
        } as iothub.Registry.DeviceDescription);
        const cases = [
          {
            what: "another device's certificate",
            id: `self-${transport}`,
            cert: issueCertificate(ca, `ca-${transport}`),
          },
          { what: 'an expired certificate', id: expiredId, cert: expired },
          { what: 'an unverified CA', id: `ca-${transport}`, cert: issueCertificate(unverifiedCa, `ca-${transport}`) },
        ];
        for (const c of cases) {
          const err = await refusal(hub, c.id, c.cert, transport);
          assert.ok(err, `${c.what}: refused`);
          assert.equal(err.constructor.name, 'UnauthorizedError', `${c.what}: ${err.constructor.name} ${err.message}`);
        }
        if (transport === 'Http') {
          // The same call with the device's own certificate is accepted (telemetry, issue 24).
          const err = await refusal(hub, `self-${transport}`, selfCerts.get(transport)!, transport);
          assert.equal(err, undefined, `the device's own certificate: ${err?.constructor.name} ${err?.message}`);
        }
      },
    );
  }

  test('a SAS device on the same MQTT port keeps working next to X.509 devices', T, async () => {
    const cs = await hub.createDevice('sas-neighbour');
    const device = await openMqttDevice(hub, cs, 'Mqtt');
    try {
      await send(hub, 'sas-neighbour', { messageId: 'sas-1', body: 'x' });
      assert.equal((await device.next(15_000)).messageId, 'sas-1');
    } finally {
      await withTimeout(device.close(), 10_000, 'close').catch(() => undefined);
    }
  });
});
