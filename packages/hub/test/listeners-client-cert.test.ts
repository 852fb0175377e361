/**
 * The listeners ask for a client certificate without requiring one, and hand what was presented
 * to the gateways with OpenSSL's verdict against the hub's verified CAs (their only trust anchors).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { ConnectionInfo, StreamGateway } from '../src/gateways/context.js';
import type { HttpClientInfo } from '../src/gateways/http/authenticate.js';
import { Listeners } from '../src/listeners/index.js';
import { createTestCa, issueCertificate, selfSignedCertificate } from '../src/tls/device-certs.js';
import { ensureTlsMaterial } from '../src/tls/index.js';
import type { KeyAndCert } from '../src/tls/pki.js';

const ADDRESS = '127.0.0.1';

class RecordingGateway implements StreamGateway {
  readonly seen: ConnectionInfo[] = [];
  connectionCount = 0;
  handle(stream: Duplex, info: ConnectionInfo): void {
    this.seen.push(info);
    stream.on('error', () => {});
    stream.write('ok');
  }
  async close(): Promise<void> {}
}

let dir: string;
let ca: string;
let listeners: Listeners;
let device: KeyAndCert;
let hubCa: KeyAndCert;
let signed: KeyAndCert;
const mqtt = new RecordingGateway();
const amqp = new RecordingGateway();
const httpSeen: Array<HttpClientInfo | undefined> = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-client-cert-'));
  const material = ensureTlsMaterial({ dataDir: dir, hosts: [ADDRESS], tls: {} });
  ca = readFileSync(material.caFile!, 'utf8');
  device = selfSignedCertificate('dev1');
  hubCa = createTestCa('Listener test root');
  signed = issueCertificate(hubCa, 'dev2');
  listeners = await Listeners.start({
    clientCas: [hubCa.certPem],
    bind: ADDRESS,
    ports: { https: 0, mqtts: 0, amqps: 0 },
    tls: { certPem: material.certPem, keyPem: material.keyPem },
    gateways: {
      mqtt,
      amqp,
      http: {
        handle: (_req, res, client) => {
          httpSeen.push(client);
          res.end('ok');
        },
      },
    },
    logger: pino({ level: 'silent' }),
  });
});
after(async () => {
  await listeners.close();
  rmSync(dir, { recursive: true, force: true });
});

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

async function tlsOpen(port: number, withCert: boolean, cert = device): Promise<void> {
  const socket = connect({
    host: ADDRESS,
    port,
    ca,
    ...(withCert ? { cert: cert.certPem, key: cert.keyPem } : {}),
  });
  await once(socket, 'data');
  socket.destroy();
}

test('MQTT and AMQP over TLS: the presented certificate reaches the gateway; none, nothing', async () => {
  await tlsOpen(listeners.ports.mqtts, true);
  await tlsOpen(listeners.ports.mqtts, false);
  await tlsOpen(listeners.ports.amqps, true);
  assert.equal(mqtt.seen[0]?.clientCertificates?.chain[0]?.fingerprint256, fingerprint(device.certPem));
  assert.equal(mqtt.seen[1]?.clientCertificates, undefined);
  assert.equal(amqp.seen[0]?.clientCertificates?.chain[0]?.fingerprint256, fingerprint(device.certPem));
  assert.equal(mqtt.seen[0]?.clientCertificates?.verifyError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
});

test('OpenSSL verifies the chain against the hub CAs given, and again against a new set', async () => {
  await tlsOpen(listeners.ports.mqtts, true, signed);
  const verified = mqtt.seen.at(-1)?.clientCertificates;
  assert.equal(verified?.verifyError, undefined);
  // The chain as reported: the leaf, then the hub CA OpenSSL anchored it to.
  assert.deepEqual(
    verified?.chain.map((c) => c.fingerprint256),
    [fingerprint(signed.certPem), fingerprint(hubCa.certPem)],
  );
  listeners.setClientCas([]);
  try {
    await tlsOpen(listeners.ports.mqtts, true, signed);
    assert.equal(mqtt.seen.at(-1)?.clientCertificates?.verifyError, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
    await tlsOpen(listeners.ports.amqps, true, signed);
    assert.equal(amqp.seen.at(-1)?.clientCertificates?.verifyError, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  } finally {
    listeners.setClientCas([hubCa.certPem]);
  }
  await tlsOpen(listeners.ports.amqps, true, signed);
  assert.equal(amqp.seen.at(-1)?.clientCertificates?.verifyError, undefined);
});

test('HTTPS requests carry the connection certificate and its verdict; WebSockets over 443 too', async () => {
  for (const withCert of [true, false, 'signed'] as const) {
    const cert = withCert === 'signed' ? signed : device;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: ADDRESS,
          port: listeners.ports.https,
          path: '/',
          ca,
          agent: false,
          ...(withCert ? { cert: cert.certPem, key: cert.keyPem } : {}),
        },
        (res) => res.resume().on('end', resolve),
      );
      req.on('error', reject);
      req.end();
    });
  }
  assert.equal(httpSeen[0]?.clientCertificates?.chain[0]?.fingerprint256, fingerprint(device.certPem));
  assert.equal(httpSeen[0]?.clientCertificates?.verifyError, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  assert.equal(httpSeen[1]?.clientCertificates, undefined);
  assert.equal(httpSeen[2]?.clientCertificates?.chain[0]?.fingerprint256, fingerprint(signed.certPem));
  assert.equal(httpSeen[2]?.clientCertificates?.verifyError, undefined);

  const ws = new WebSocket(`wss://${ADDRESS}:${listeners.ports.https}/$iothub/websocket`, ['mqtt'], {
    ca,
    cert: device.certPem,
    key: device.keyPem,
  });
  await once(ws, 'message');
  ws.terminate();
  const last = mqtt.seen.at(-1);
  assert.equal(last?.transport, 'ws');
  assert.equal(last?.clientCertificates?.chain[0]?.fingerprint256, fingerprint(device.certPem));
});
