/**
 * Issue 23: an official AMQP X.509 device (azure-iot-device-amqp) with the wrong certificate gets
 * the SDK's UnauthorizedError from the first link it attaches, its telemetry sender, instead of
 * amqp:not-implemented (Microsoft's e2e test for it hung to its time-out): the hub authorizes
 * every attach before it says anything else about the link, and refuses this one with
 * amqp:unauthorized-access (issue 24's "Verified by").
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type KeyAndCert, selfSignedCertificate, thumbprintsOf } from '@ferry/hub';
import deviceSdk from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { withTimeout } from './helpers/wait.js';
import { x509ConnectionString } from './helpers/x509.js';

const T = { timeout: 60_000 };
const API = 'api-version=2021-04-12';

let hub: HubProcess;
let wrong: KeyAndCert;

before(async () => {
  hub = await startHub();
  const own = selfSignedCertificate('x509-wrong-cert');
  // Same subject, another key: the thumbprint is not the device's.
  wrong = selfSignedCertificate('x509-wrong-cert');
  const res = await hubRequest(hub, 'PUT', `/devices/x509-wrong-cert?${API}`, {
    headers: { authorization: serviceSas(hub, 'iothubowner'), 'content-type': 'application/json' },
    body: JSON.stringify({
      deviceId: 'x509-wrong-cert',
      authentication: {
        type: 'selfSigned',
        x509Thumbprint: { primaryThumbprint: thumbprintsOf(new X509Certificate(own.certPem)).sha1 },
      },
    }),
  });
  assert.equal(res.status, 200, res.body.toString());
});

after(async () => {
  await hub?.stop();
});

for (const [name, transport] of [
  ['Amqp', deviceAmqp.Amqp],
  ['AmqpWs', deviceAmqp.AmqpWs],
] as const) {
  test(`${name}: the wrong certificate gets UnauthorizedError from sendEvent`, T, async () => {
    const client = deviceSdk.Client.fromConnectionString(x509ConnectionString(hub, 'x509-wrong-cert'), transport);
    client.on('error', () => {});
    try {
      await withTimeout(
        client.setOptions({ ca: readFileSync(hub.caFile, 'utf8'), cert: wrong.certPem, key: wrong.keyPem }),
        10_000,
        'setOptions',
      );
      const err = await withTimeout(
        client.sendEvent(new deviceSdk.Message('telemetry')).then(
          () => undefined,
          (e: Error) => e,
        ),
        30_000,
        'sendEvent',
      );
      assert.ok(err, 'sendEvent was refused');
      assert.equal(err.constructor.name, 'UnauthorizedError', `${err.constructor.name}: ${err.message}`);
      // The hub's condition on the telemetry link's detach, as the SDK keeps it.
      assert.equal((err as { amqpError?: { condition?: string } }).amqpError?.condition, 'amqp:unauthorized-access');
    } finally {
      await withTimeout(client.close(), 10_000, 'close').catch(() => undefined);
    }
  });
}
