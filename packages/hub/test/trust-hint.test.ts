/**
 * Issue 12: a client that does not trust the hub's certificate gives up silently; the hub says
 * once (info, at most a line a minute) what is probably wrong and which CA file to give it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { pino } from 'pino';
import { Listeners } from '../src/listeners/index.js';
import { ensureTlsMaterial, type TlsMaterial } from '../src/tls/index.js';

const ADDRESS = '127.0.0.1';
let dir: string;
let material: TlsMaterial;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-trust-hint-'));
  material = ensureTlsMaterial({ dataDir: dir, hosts: [ADDRESS], tls: {} });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const NOOP_GATEWAY = {
  connectionCount: 0,
  handle: () => {},
  close: async () => {},
};

/** A TLS client with Node's default trust store (which lacks the hub's CA); resolves with its error code. */
function untrustingClient(port: number, maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: ADDRESS, port, servername: 'localhost', maxVersion });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code));
    socket.on('secureConnect', () => resolve(undefined));
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

type Line = { level: number; msg: string };

async function startListeners(lines: Line[]): Promise<Listeners> {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      cb();
    },
  });
  return Listeners.start({
    bind: ADDRESS,
    ports: { https: 0, mqtts: 0, amqps: 0 },
    tls: { certPem: material.certPem, keyPem: material.keyPem },
    gateways: { mqtt: NOOP_GATEWAY, amqp: NOOP_GATEWAY, http: { handle: (_req, res) => res.end() } },
    logger: pino({ level: 'info' }, sink),
    caFile: material.caFile!,
  });
}

const hints = (lines: Line[]) => lines.filter((l) => l.msg.includes("do not trust the hub's certificate"));

test('a TLS 1.2 client that gives up mid-handshake: one info line naming the CA file, then none that minute', async () => {
  const lines: Line[] = [];
  const listeners = await startListeners(lines);
  try {
    assert.equal(await untrustingClient(listeners.ports.mqtts, 'TLSv1.2'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    await until(() => hints(lines).length === 1, 'the hint');
    assert.equal(hints(lines)[0]!.level, 30);
    assert.ok(hints(lines)[0]!.msg.includes(material.caFile!));
    assert.ok(readFileSync(material.caFile!, 'utf8').includes('BEGIN CERTIFICATE'));
    for (let i = 0; i < 3; i++) await untrustingClient(listeners.ports.amqps, 'TLSv1.2');
    // The hub has seen all three hang-ups (their sockets are gone), and logged no second line.
    await until(() => listeners.pendingHandshakes === 0, 'the three failed handshakes handled');
    assert.equal(hints(lines).length, 1);
  } finally {
    await listeners.close();
  }
});

test('a TLS 1.3 client that closes right after the handshake, having sent nothing, gets the same hint', async () => {
  const lines: Line[] = [];
  const listeners = await startListeners(lines);
  try {
    assert.equal(await untrustingClient(listeners.ports.https, 'TLSv1.3'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    await until(() => hints(lines).length === 1, 'the hint');
  } finally {
    await listeners.close();
  }
});
