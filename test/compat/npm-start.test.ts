/**
 * Issue 12: `npm start` stops cleanly when the process the user started (npm) gets SIGTERM or
 * SIGINT, the way scripts and supervisors stop it, and the hub never outlives npm unnoticed:
 * when npm is killed outright, the hub stops by itself. "Stopped" means its ports are free.
 *
 * Issue 30: Ctrl-C in a terminal sends SIGINT to the whole foreground process group (npm, and the
 * hub it started), and npm forwards its own copy: the hub gets two SIGINTs at once, which must
 * still be one graceful stop (exit 0, leased messages back in their queues, "hub stopped"), after
 * which `npm start` on the same data directory serves the same devices and messages.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { CLI_BIN } from './harness.js';
import { withTimeout } from './helpers/wait.js';
import { connectSilent } from './mqtt-helpers.js';

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

/**
 * `npm start -- ...` as a user runs it; resolves once the hub printed its ready line. `detached`
 * puts npm in a process group of its own, as a terminal's shell does for a foreground job.
 */
async function npmStart(
  opts: { dir?: string; detached?: boolean } = {},
): Promise<{ npm: ChildProcess; output: () => string; dir: string }> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ferry-npm-start-'));
  if (!opts.dir) dirs.push(dir);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ observability: { port: 0 } }));
  const npm = spawn(
    'npm',
    ['start', '--', '--bind', ADDRESS, '--host', ADDRESS, '--data-dir', join(dir, 'data'), '--config', config],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false },
  );
  let text = '';
  npm.stdout?.on('data', (b: Buffer) => (text += b.toString()));
  npm.stderr?.on('data', (b: Buffer) => (text += b.toString()));
  const deadline = Date.now() + 40_000;
  while (!text.includes('Ferry hub ready')) {
    if (npm.exitCode !== null || Date.now() > deadline) assert.fail(`npm start did not get ready:\n${text}`);
    await sleep(100);
  }
  return { npm, output: () => text, dir };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_BIN, ...args], (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
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

test(
  "Ctrl-C (SIGINT to npm start's process group, twice through npm) stops gracefully: exit 0, leases back, data kept",
  T,
  async () => {
    const first = await npmStart({ detached: true });
    const dataDir = join(first.dir, 'data');
    const created = await ferry(['device', 'create', 'ctrl-c', '--data-dir', dataDir]);
    assert.equal(created.code, 0, created.stderr);
    const sent = await ferry([
      'message',
      'send',
      'ctrl-c',
      'held over the stop',
      '--message-id',
      'held-1',
      '--data-dir',
      dataDir,
    ]);
    assert.equal(sent.code, 0, sent.stderr);

    // A device that receives the message over MQTT and never acknowledges it: the hub holds it leased.
    const device = await connectSilent(
      { address: ADDRESS, caFile: join(dataDir, 'tls', 'ca.pem') },
      created.stdout.trim(),
    );
    await withTimeout(
      device.mqtt.subscribeAsync('devices/ctrl-c/messages/devicebound/#', { qos: 1 }),
      10_000,
      'subscribe',
    );
    const leased = await device.nth(1);
    assert.equal(leased.payload.toString(), 'held over the stop');

    process.kill(-first.npm.pid!, 'SIGINT');
    const code = await withTimeout(exitOf(first.npm), 20_000, 'npm start to exit after Ctrl-C');
    assert.equal(code, 0, first.output());
    assert.match(first.output(), /hub stopped/);
    assert.doesNotMatch(first.output(), /exiting without waiting/);
    await assertPortsFreeWithin(5000, first.output);
    await device.end();

    // The same data directory again: the device is there, and the leased message is back in its
    // queue at once (its 60 s lock was given back at the stop, not left to expire).
    const second = await npmStart({ dir: first.dir, detached: true });
    try {
      const shown = await ferry(['device', 'show', 'ctrl-c', '--data-dir', dataDir]);
      assert.equal(shown.code, 0, shown.stderr);
      const again = await ferry(['message', 'receive', 'ctrl-c', '--complete', '--json', '--data-dir', dataDir]);
      assert.equal(again.code, 0, again.stderr);
      const message = JSON.parse(again.stdout) as { messageId: string; body: string };
      assert.equal(message.messageId, 'held-1');
      assert.equal(message.body, 'held over the stop');
    } finally {
      process.kill(-second.npm.pid!, 'SIGINT');
      assert.equal(await withTimeout(exitOf(second.npm), 20_000, 'the second npm start to exit'), 0, second.output());
    }
  },
);

test('Ctrl-C on the bare bin (SIGINT to its process group) stops gracefully with exit 0', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bare-bin-'));
  dirs.push(dir);
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ observability: { port: 0 } }));
  const hub = spawn(
    process.execPath,
    [
      CLI_BIN,
      'hub',
      'start',
      '--bind',
      ADDRESS,
      '--host',
      ADDRESS,
      '--data-dir',
      join(dir, 'data'),
      '--config',
      config,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let text = '';
  hub.stdout?.on('data', (b: Buffer) => (text += b.toString()));
  hub.stderr?.on('data', (b: Buffer) => (text += b.toString()));
  const deadline = Date.now() + 30_000;
  while (!text.includes('Ferry hub ready')) {
    if (hub.exitCode !== null || Date.now() > deadline) assert.fail(`the hub did not get ready:\n${text}`);
    await sleep(100);
  }
  process.kill(-hub.pid!, 'SIGINT');
  assert.equal(await withTimeout(exitOf(hub), 20_000, 'the hub to exit after Ctrl-C'), 0, text);
  assert.match(text, /ferry: hub stopped/);
  await assertPortsFreeWithin(5000, () => text);
});
