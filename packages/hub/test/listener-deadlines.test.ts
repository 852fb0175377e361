/**
 * Regression (issue 7): raw TCP connections that never start TLS were kept for good (2,000 held
 * 2,029 descriptors). Every listener now drops a socket whose TLS handshake does not finish in
 * connections.tlsHandshakeTimeoutMs, bounds the sockets still in handshake, and HTTPS drops a
 * connection that sends no request within connections.firstPacketTimeoutMs. Real sockets, short
 * deadlines.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { pino } from 'pino';
import type { StreamGateway } from '../src/gateways/context.js';
import { Listeners } from '../src/listeners/index.js';
import { ensureTlsMaterial, type TlsMaterial } from '../src/tls/index.js';

const ADDRESS = '127.0.0.1';
const logger = pino({ level: 'silent' });

class NullGateway implements StreamGateway {
  readonly streams: Duplex[] = [];
  get connectionCount(): number {
    return this.streams.filter((s) => !s.destroyed).length;
  }
  handle(stream: Duplex): void {
    stream.on('error', () => {});
    this.streams.push(stream);
  }
  async close(): Promise<void> {}
}

let dir: string;
let material: TlsMaterial;
let ca: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-deadlines-test-'));
  material = ensureTlsMaterial({ dataDir: dir, hosts: [ADDRESS], tls: {} });
  ca = readFileSync(material.caFile!, 'utf8');
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function start(limits: {
  tlsHandshakeTimeoutMs: number;
  firstPacketTimeoutMs: number;
  maxPendingHandshakes: number;
}) {
  return Listeners.start({
    bind: ADDRESS,
    ports: { https: 0, mqtts: 0, amqps: 0 },
    tls: { certPem: material.certPem, keyPem: material.keyPem },
    gateways: { mqtt: new NullGateway(), amqp: new NullGateway(), http: { handle: (_req, res) => res.end('ok') } },
    logger,
    limits,
  });
}

async function rawTcp(port: number): Promise<Socket> {
  const s = netConnect(port, ADDRESS);
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** Resolves when the hub has closed the socket (we never end it ourselves). */
function closedByHub(s: Socket): Promise<void> {
  s.resume();
  return s.destroyed ? Promise.resolve() : new Promise((resolve) => s.once('close', () => resolve()));
}

describe('listener deadlines', () => {
  let l: Listeners;
  before(async () => {
    l = await start({ tlsHandshakeTimeoutMs: 300, firstPacketTimeoutMs: 400, maxPendingHandshakes: 1000 });
  });
  after(() => l.close());

  test('a socket that never sends a ClientHello is closed, on every listener', async () => {
    for (const port of [l.ports.mqtts, l.ports.amqps, l.ports.https]) {
      const sockets = await Promise.all([0, 1, 2].map(() => rawTcp(port)));
      await Promise.all(sockets.map(closedByHub));
    }
    await waitFor(() => l.pendingHandshakes === 0, 'no handshake left pending');
  });

  test('an HTTPS connection that sends no request is answered 408 and closed', async () => {
    const s = tlsConnect({ host: ADDRESS, port: l.ports.https, ca });
    s.on('error', () => {});
    await once(s, 'secureConnect');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    await once(s, 'close');
    assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 408/);
  });
});

describe('handshake cap', () => {
  test('sockets beyond maxPendingHandshakes are dropped at once; a finished handshake frees its place', async () => {
    const l = await start({ tlsHandshakeTimeoutMs: 60_000, firstPacketTimeoutMs: 60_000, maxPendingHandshakes: 3 });
    try {
      const held = await Promise.all([0, 1, 2].map(() => rawTcp(l.ports.amqps)));
      await waitFor(() => l.pendingHandshakes === 3, 'three sockets in handshake');
      // The handshake deadline is a minute away: only the cap can close these.
      const over = await rawTcp(l.ports.mqtts);
      await closedByHub(over);
      assert.ok(held.every((s) => !s.destroyed));
      held[0]!.destroy();
      await waitFor(() => l.pendingHandshakes === 2, 'a place freed');
      const tls = tlsConnect({ host: ADDRESS, port: l.ports.amqps, ca });
      await once(tls, 'secureConnect');
      await waitFor(() => l.pendingHandshakes === 2, 'the finished handshake no longer counts');
      tls.destroy();
      for (const s of held) s.destroy();
    } finally {
      await l.close();
    }
  });
});

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}
