/**
 * Regression (issue 29, memory): a SQLite hub restarted on its data dir, with no WebSocket client,
 * does not load the PostgreSQL driver, node-forge or ws (several MiB of heap each, kept for the
 * process's life; docs/memory.md). Each start runs in a child process of its own, so nothing this
 * test runner or an earlier start loaded counts: the first start makes the CA and the server
 * certificate (with forge), the second finds them on disk.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const dataDir = mkdtempSync(join(tmpdir(), 'ferry-lazy-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const CHILD = `
import { createRequire } from 'node:module';
const { Hub } = await import(${JSON.stringify(new URL('../src/hub.ts', import.meta.url).href)});
const { parseConfig } = await import(${JSON.stringify(new URL('../src/config/index.ts', import.meta.url).href)});
const config = parseConfig({ flags: {
  dataDir: ${JSON.stringify(dataDir)}, hosts: ['127.0.0.1'], bind: '127.0.0.1',
  ports: { https: 0, mqtts: 0, amqps: 0 }, observability: { port: 0 }, log: { level: 'silent' },
} });
const loaded = () => new Set(Object.keys(createRequire(import.meta.url).cache)
  .map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(f)?.[1]).filter(Boolean));
const hub = await Hub.start(config);
const packages = [...loaded()];
await hub.stop();
console.log(JSON.stringify(packages));
`;

/** Starts and stops a hub on dataDir in a child process; the packages it had loaded once started. */
async function startOnce(): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', CHILD],
    { timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as string[];
}

test('a SQLite hub loads neither pg, node-forge nor ws until it needs them', async () => {
  const first = await startOnce();
  // The listing sees CommonJS packages: the first start made its certificates with forge.
  assert.ok(first.includes('node-forge'), `forge not seen on the first start: ${first.join(', ')}`);
  const second = await startOnce();
  assert.ok(second.includes('better-sqlite3'), `better-sqlite3 not seen: ${second.join(', ')}`);
  for (const lazy of ['pg', 'node-forge', 'ws']) {
    assert.ok(!second.includes(lazy), `${lazy} was loaded by a SQLite hub restarted on its data dir`);
  }
});
