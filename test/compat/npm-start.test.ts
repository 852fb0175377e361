/**
 * Issue 12: `npm start` stops cleanly when the process the user started (npm) gets SIGTERM or
 * SIGINT, the way scripts and supervisors stop it, and the hub never outlives npm unnoticed:
 * when npm is killed outright, the hub stops by itself. "Stopped" means its ports are free.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PORTS = [443, 8883, 5671];
// An address of its own, away from the harness's counter (which starts at .2).
const ADDRESS = `127.0.${1 + (process.pid % 250)}.250`;
const T = { timeout: 60_000 };
const dirs: string[] = [];

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, ADDRESS, () => server.close(() => resolve(true)));
  });
}

async function portsFree(): Promise<boolean> {
  for (const port of PORTS) if (!(await canBind(port))) return false;
  return true;
}

/** `npm start -- ...` as a user runs it; resolves once the hub printed its ready line. */
async function npmStart(): Promise<{ npm: ChildProcess; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-npm-start-'));
  dirs.push(dir);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ observability: { port: 0 } }));
  const npm = spawn(
    'npm',
    ['start', '--', '--bind', ADDRESS, '--host', ADDRESS, '--data-dir', join(dir, 'data'), '--config', config],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  npm.stdout?.on('data', (b: Buffer) => (text += b.toString()));
  npm.stderr?.on('data', (b: Buffer) => (text += b.toString()));
  const deadline = Date.now() + 40_000;
  while (!text.includes('Ferry hub ready')) {
    if (npm.exitCode !== null || Date.now() > deadline) assert.fail(`npm start did not get ready:\n${text}`);
    await sleep(100);
  }
  return { npm, output: () => text };
}

async function assertPortsFreeWithin(ms: number, output: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await portsFree())) {
    if (Date.now() > deadline) assert.fail(`ports ${PORTS.join(', ')} still held after ${ms} ms:\n${output()}`);
    await sleep(100);
  }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to npm's pid stops the hub: its ports are free within 5 s`, T, async () => {
    const { npm, output } = await npmStart();
    assert.equal(await portsFree(), false, 'the hub holds its ports while it runs');
    npm.kill(signal);
    await assertPortsFreeWithin(5000, output);
  });
}

test('a hub whose npm is killed outright (SIGKILL) stops by itself', T, async () => {
  const { npm, output } = await npmStart();
  npm.kill('SIGKILL');
  await assertPortsFreeWithin(5000, output);
});
