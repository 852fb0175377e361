/**
 * `ferry twin show|update-desired|update-tags` and `ferry query` against a real hub (built on
 * @ferry/service's RegistryClient.getTwin/updateTwin/query): the twin changes as asked, a stale
 * --etag is refused, and a query pages through every result.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { CLI_BIN, type HubProcess, startHub } from './harness.js';

const T = { timeout: 60_000 };

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_BIN, ...args], (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

let hub: HubProcess;

before(async () => {
  hub = await startHub();
  for (const id of ['cli-t1', 'cli-t2', 'cli-t3']) await hub.createDevice(id);
});

after(async () => {
  await hub?.stop();
});

test('twin show, update-desired, update-tags; a stale --etag is refused', T, async () => {
  const dir = ['--data-dir', hub.dataDir];
  const shown = await ferry(['twin', 'show', 'cli-t1', ...dir]);
  assert.equal(shown.code, 0, shown.stderr);
  const before = JSON.parse(shown.stdout) as { etag: string; version: number };
  assert.equal(before.version, 1);

  const desired = await ferry(['twin', 'update-desired', 'cli-t1', '{"rate": 5, "mode": "eco"}', ...dir]);
  assert.equal(desired.code, 0, desired.stderr);
  const d = JSON.parse(desired.stdout) as { properties: { desired: Record<string, unknown> } };
  assert.equal(d.properties.desired.rate, 5);
  assert.equal(d.properties.desired.$version, 2);

  const stale = await ferry(['twin', 'update-tags', 'cli-t1', '{"site": "x"}', '--etag', before.etag, ...dir]);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /etag/i);

  for (const [id, site] of [
    ['cli-t1', 'north'],
    ['cli-t2', 'north'],
    ['cli-t3', 'south'],
  ] as const) {
    const tagged = await ferry(['twin', 'update-tags', id, JSON.stringify({ site }), ...dir]);
    assert.equal(tagged.code, 0, tagged.stderr);
  }
  const bad = await ferry(['twin', 'update-tags', 'cli-t1', '[1]', ...dir]);
  assert.equal(bad.code, 2);
});

test('query prints every page of results; COUNT() GROUP BY; a syntax error says where', T, async () => {
  const dir = ['--data-dir', hub.dataDir];
  const all = await ferry(['query', "SELECT * FROM devices WHERE tags.site = 'north'", '--page-size', '1', ...dir]);
  assert.equal(all.code, 0, all.stderr);
  assert.deepEqual(
    (JSON.parse(all.stdout) as Array<{ deviceId: string }>).map((t) => t.deviceId),
    ['cli-t1', 'cli-t2'],
  );
  const counts = await ferry([
    'query',
    'SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site',
    ...dir,
  ]);
  assert.equal(counts.code, 0, counts.stderr);
  const rows = JSON.parse(counts.stdout) as Array<{ site: string; n: number }>;
  assert.deepEqual(Object.fromEntries(rows.map((r) => [r.site, r.n])), { north: 2, south: 1 });
  const bad = await ferry(['query', 'SELECT * FROM devices WHERE', ...dir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /line 1, position 28/);
});
