/** A started hub serves the built console at /console/ over its TLS listener, unless console.enabled is false. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../src/config/index.js';
import { Hub } from '../src/hub.js';
import { hubCall } from './hub-call.js';

const ADDRESS = '127.0.0.1';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function startHub(consoleEnabled: boolean): Promise<Hub> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-hub-console-'));
  dirs.push(dataDir);
  const config = parseConfig({
    flags: {
      dataDir,
      hosts: [ADDRESS],
      bind: ADDRESS,
      ports: { https: 0, mqtts: 0, amqps: 0 },
      observability: { port: 0 },
      console: { enabled: consoleEnabled },
    },
  });
  return Hub.start(config, { logger: pino({ level: 'silent' }) });
}

test('the console is served by default: index.html names assets the hub serves', async () => {
  const hub = await startHub(true);
  try {
    const index = await hubCall(hub, 'GET', '/console/');
    assert.equal(index.status, 200);
    const assets = [...index.text.matchAll(/(?:src|href)="(app-[A-Z0-9]+\.(?:js|css))"/g)].map((m) => m[1]!);
    assert.equal(assets.length, 2, index.text);
    for (const a of assets) assert.equal((await hubCall(hub, 'GET', `/console/${a}`)).status, 200, a);
    const info = await hubCall(hub, 'GET', '/hubInfo');
    assert.equal(JSON.parse(info.text).caFile, hub.caFile);
  } finally {
    await hub.stop();
  }
});

test('console.enabled false: no /console/', async () => {
  const hub = await startHub(false);
  try {
    assert.equal((await hubCall(hub, 'GET', '/console/')).status, 404);
  } finally {
    await hub.stop();
  }
});
