import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { isFerryError } from '@ferry/common';
import { checkPortsFree } from '../src/listeners/port-check.js';

const ADDRESS = '127.0.0.1';
const blockers: Server[] = [];
let taken: number[] = [];

before(async () => {
  for (let i = 0; i < 2; i++) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, ADDRESS, resolve));
    blockers.push(server);
  }
  taken = blockers.map((s) => (s.address() as { port: number }).port);
});

after(() => {
  for (const s of blockers) s.close();
});

test('every taken port is named in one error, with the settings that move them', async () => {
  const targets = [
    { name: 'https', address: ADDRESS, port: taken[0]! },
    { name: 'mqtts', address: ADDRESS, port: 0 },
    { name: 'operations', address: ADDRESS, port: taken[1]!, portSetting: 'observability.port' },
  ];
  await assert.rejects(checkPortsFree(targets), (err: Error) => {
    assert.ok(isFerryError(err, 'ServiceUnavailable'));
    assert.match(
      err.message,
      new RegExp(
        `ports 127\\.0\\.0\\.1:${taken[0]} \\(https\\), 127\\.0\\.0\\.1:${taken[1]} \\(operations\\) are already in use`,
      ),
    );
    assert.match(err.message, /Another Ferry hub, or another program, holds them/);
    assert.match(err.message, /ports\.https \(--port-https\), observability\.port/);
    return true;
  });
});

test('when the data dir names a hub that is still running, the error says which and how to stop it', async () => {
  const other = spawn('sleep', ['30']);
  try {
    const hint = { pid: other.pid!, dataDir: '/tmp/some-hub', startedAt: '2026-01-01T00:00:00.000Z' };
    await assert.rejects(checkPortsFree([{ name: 'https', address: ADDRESS, port: taken[0]! }], hint), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(`from /tmp/some-hub \\(pid ${other.pid}\\) is still running: stop it \\(\`kill ${other.pid}\``),
      );
      return true;
    });
  } finally {
    other.kill();
  }
});

test('free ports pass', async () => {
  await checkPortsFree([{ name: 'https', address: ADDRESS, port: 0 }]);
});
