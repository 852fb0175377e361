/** A started hub serves the built console at /console/ over its TLS listener, unless console.enabled is false. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { Hub } from '../src/hub.js';
import { hubCall } from './hub-call.js';
import { inProcessHubConfig, removeHubDirs } from './in-process-hub.js';

after(removeHubDirs);

async function startHub(consoleEnabled: boolean): Promise<Hub> {
  const config = inProcessHubConfig('ferry-hub-console-', {
    observability: { port: 0 },
    console: { enabled: consoleEnabled },
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
