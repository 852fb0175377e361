import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isFerryError, parseHubConnectionString } from '@ferry/common';
import { pino } from 'pino';
import { parseConfig } from '../src/config/index.js';
import { readHubInfo, readPolicyConnectionString } from '../src/data-dir.js';
import { Hub } from '../src/hub.js';
import { hubCall } from './hub-call.js';

const ADDRESS = '127.0.0.1';
const logger = pino({ level: 'silent' });
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(dataDir = mkdtempSync(join(tmpdir(), 'ferry-hub-test-')), ports = { https: 0, mqtts: 0, amqps: 0 }) {
  dirs.push(dataDir);
  // observability.port 0: no operations endpoint here (operations.test.ts covers it), so these
  // hubs never compete for 9464 with anything else on the machine.
  return parseConfig({ flags: { dataDir, hosts: [ADDRESS], bind: ADDRESS, ports, observability: { port: 0 } } });
}

async function registryCall(
  hub: Hub,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const reply = await hubCall(hub, method, path, {
    policy: 'registryReadWrite',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: reply.status, json: reply.text ? JSON.parse(reply.text) : undefined };
}

test('a started hub serves the registry over TLS with its own CA, and stops cleanly', async () => {
  const cfg = config();
  const hub = await Hub.start(cfg, { logger });
  try {
    assert.equal(hub.ready, true);
    assert.ok(hub.caFile && existsSync(hub.caFile));
    assert.equal(hub.hubName, ADDRESS);
    const owner = parseHubConnectionString(hub.connectionString());
    assert.equal(owner.hostName, ADDRESS);
    assert.equal(owner.sharedAccessKeyName, 'iothubowner');
    assert.throws(
      () => hub.connectionString('nobody'),
      (err: Error) => isFerryError(err, 'ArgumentInvalid'),
    );

    const created = await registryCall(hub, 'PUT', '/devices/dev1', { deviceId: 'dev1' });
    assert.equal(created.status, 200);
    assert.equal((created.json as { deviceId: string }).deviceId, 'dev1');
    assert.match(await hub.metrics.text(), /ferry_connections_total\{protocol="https",transport="tls"\} [1-9]/);

    const info = readHubInfo(cfg.dataDir);
    assert.deepEqual(info?.ports, { ...hub.ports });
    assert.deepEqual(info?.hosts, [ADDRESS]);
    assert.equal(info?.caFile, hub.caFile);
    const cert = new X509Certificate(readFileSync(join(cfg.dataDir, 'tls', 'server.pem')));
    assert.equal(cert.checkIP(ADDRESS), ADDRESS);
  } finally {
    await hub.stop();
  }
  assert.equal(hub.ready, false);
  await hub.stop(); // a second stop is harmless
});

test('a restart on the same data dir keeps the policy keys and the devices', async () => {
  const cfg = config();
  const first = await Hub.start(cfg, { logger });
  const owner = first.connectionString();
  assert.equal((await registryCall(first, 'PUT', '/devices/keep', { deviceId: 'keep' })).status, 200);
  await first.stop();

  assert.equal(await readPolicyConnectionString({ config: cfg, policy: 'iothubowner' }), owner);

  const second = await Hub.start(cfg, { logger });
  try {
    assert.equal(second.connectionString(), owner);
    const got = await registryCall(second, 'GET', '/devices/keep');
    assert.equal(got.status, 200);
  } finally {
    await second.stop();
  }
});

test('store.worker: a hub with SQLite in a worker thread keeps its devices across a restart', async () => {
  const base = config();
  const cfg = parseConfig({
    flags: { dataDir: base.dataDir, hosts: [ADDRESS], bind: ADDRESS, ports: base.ports, observability: { port: 0 } },
    file: { store: { worker: true } },
  });
  assert.equal(cfg.store.kind === 'sqlite' && cfg.store.worker, true);
  for (let round = 0; round < 2; round++) {
    const hub = await Hub.start(cfg, { logger });
    try {
      if (round === 0) assert.equal((await registryCall(hub, 'PUT', '/devices/w', { deviceId: 'w' })).status, 200);
      assert.equal((await registryCall(hub, 'GET', '/devices/w')).status, 200);
    } finally {
      await hub.stop();
    }
  }
});

test('a bind failure tears down what was started, so the same data dir starts afterwards', async () => {
  const blocker = createNetServer();
  await new Promise<void>((resolve) => blocker.listen(0, ADDRESS, resolve));
  const { port } = blocker.address() as { port: number };
  const cfg = config(undefined, { https: 0, mqtts: port, amqps: 0 });
  await assert.rejects(Hub.start(cfg, { logger }), /cannot start: port 127\.0\.0\.1:\d+ \(mqtts\) is already in use/);
  blocker.close();
  const hub = await Hub.start(config(cfg.dataDir), { logger });
  await hub.stop();
});

test('a data dir without a hub: reading a connection string says how to start one', async () => {
  const cfg = config();
  await assert.rejects(readPolicyConnectionString({ config: cfg, policy: 'iothubowner' }), (err: Error) => {
    assert.ok(isFerryError(err));
    assert.match(err.message, /npx ferry hub start/);
    return true;
  });
});
