/**
 * MQTT CONNECT with a TLS client certificate and no password (x509=true): accepted for the device
 * whose thumbprint it has, CONNACK 5 otherwise; the connection is cut off when the registry no
 * longer accepts its certificate, and closed when the certificate expires.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { thumbprintsOf, X509Authenticator } from '../src/auth/x509.js';
import { createMqttGateway } from '../src/gateways/mqtt/index.js';
import { CaCertificates } from '../src/registry/ca-certificates.js';
import { selfSignedCertificate } from '../src/tls/device-certs.js';
import { duplexPair, HOST, RawClient, startTestHub, until } from './mqtt-helpers.js';

const HOUR = 3_600_000;

async function setup() {
  const hub = await startTestHub();
  const now = hub.clock.now();
  const x509 = new X509Authenticator({
    registry: hub.registry,
    caCertificates: new CaCertificates(hub.store, hub.clock),
    clock: hub.clock,
  });
  const gateway = createMqttGateway({ ...hub.ctx, x509 });
  const cert = (cn: string) =>
    new X509Certificate(
      selfSignedCertificate(cn, { notBefore: new Date(now - HOUR), notAfter: new Date(now + 2 * HOUR) }).certPem,
    );
  const connect = async (deviceId: string, certificate: X509Certificate | undefined, password?: string) => {
    const [server, side] = duplexPair();
    gateway.handle(server, {
      remoteAddress: '127.0.0.1',
      transport: 'memory',
      ...(certificate
        ? { clientCertificates: { chain: [certificate], verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT' } }
        : {}),
    });
    const client = new RawClient(side);
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: deviceId,
      clean: true,
      keepalive: 0,
      username: `${HOST}/${deviceId}/?api-version=2021-04-12`,
      ...(password === undefined ? {} : { password: Buffer.from(password) }),
    });
    return { client, connack: await client.next('connack') };
  };
  return { hub, gateway, cert, connect };
}

describe('MQTT with X.509 client certificates', () => {
  test('the thumbprint decides: CONNACK 0 for the device, 5 for another certificate, 4 with neither password nor certificate', async () => {
    const { hub, gateway, cert, connect } = await setup();
    const mine = cert('dev1');
    await hub.registry.create({
      deviceId: 'dev1',
      authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumbprintsOf(mine).sha256 } },
    });
    assert.equal((await connect('dev1', mine)).connack.returnCode, 0);
    assert.equal((await connect('dev1', cert('dev1'))).connack.returnCode, 5);
    assert.equal((await connect('nobody', mine)).connack.returnCode, 5);
    assert.equal((await connect('dev1', undefined)).connack.returnCode, 4);
    await gateway.close();
  });

  test('a thumbprint change cuts the connection off; so does the certificate expiring', async () => {
    const { hub, gateway, cert, connect } = await setup();
    const mine = cert('dev2');
    await hub.registry.create({
      deviceId: 'dev2',
      authentication: { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: thumbprintsOf(mine).sha1 } },
    });
    const first = await connect('dev2', mine);
    assert.equal(first.connack.returnCode, 0);
    // Adding a secondary thumbprint keeps the certificate valid: the connection stays.
    const other = cert('dev2');
    await hub.registry.update(
      'dev2',
      { authentication: { x509Thumbprint: { secondaryThumbprint: thumbprintsOf(other).sha1 } } },
      '*',
    );
    assert.equal(gateway.connectionCount, 1);
    // Replacing the primary one drops it.
    await hub.registry.update(
      'dev2',
      { authentication: { x509Thumbprint: { primaryThumbprint: thumbprintsOf(other).sha1 } } },
      '*',
    );
    await first.client.waitClosed();
    assert.equal((await connect('dev2', mine)).connack.returnCode, 5);

    const second = await connect('dev2', other);
    assert.equal(second.connack.returnCode, 0);
    hub.clock.advance(2 * HOUR + 1000);
    await second.client.waitClosed();
    await until(() => gateway.connectionCount === 0, 'the expired connection is gone');
    await gateway.close();
  });
});
