/**
 * Issue 12: the README's official-SDK examples run where users put them: copied out of the
 * checkout into a project of their own (its own ESM package.json), configured only through the
 * environment the README shows, and they exit when done. node_modules is linked to the
 * checkout's (the same official packages that `npm install` in the copy would fetch).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type HubProcess, startHub } from './harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const T = { timeout: 90_000 };

let hub: HubProcess;
let project: string;

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
  project = mkdtempSync(join(tmpdir(), 'ferry-user-project-'));
  cpSync(join(ROOT, 'examples', 'official-sdk'), project, { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
});

after(async () => {
  await hub?.stop();
  rmSync(project, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `node <script> ...args` in the user's project, with only the environment the README sets. */
function run(script: string, args: string[], env: Record<string, string>): Run {
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const child = spawn(process.execPath, [script, ...args], { cwd: project, env: { ...base, ...env } });
  let text = '';
  child.stdout.on('data', (b: Buffer) => (text += b.toString()));
  child.stderr.on('data', (b: Buffer) => (text += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => text, exited };
}

async function waitForOutput(r: Run, pattern: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(r.output())) {
    if (r.child.exitCode !== null || Date.now() > deadline) assert.fail(`expected ${pattern}, got:\n${r.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('the device example receives and the back-end example gets Success feedback; both exit 0', T, async () => {
  const deviceCs = await hub.createDevice('example-dev');
  const device = run('receive.mjs', [], { DEVICE_CONNECTION_STRING: deviceCs, FERRY_CA_FILE: hub.caFile });
  await waitForOutput(device, /connected over MQTT/, 30_000);
  const backEnd = run('send.mjs', ['example-dev', 'hello from the back end'], {
    FERRY_CONNECTION_STRING: hub.connectionString('service'),
    NODE_EXTRA_CA_CERTS: hub.caFile,
  });
  assert.equal(await backEnd.exited, 0, backEnd.output());
  assert.match(backEnd.output(), /^feedback: example-\d+ example-dev Success$/m);
  assert.equal(await device.exited, 0, device.output());
  assert.match(device.output(), /^received example-\d+: hello from the back end$/m);
});

test('misconfigured examples say what to set and exit 1 instead of hanging', T, async () => {
  const relative = run('send.mjs', [], {
    FERRY_CONNECTION_STRING: hub.connectionString('service'),
    NODE_EXTRA_CA_CERTS: 'ferry-data/tls/ca.pem',
  });
  assert.equal(await relative.exited, 1);
  assert.match(relative.output(), /NODE_EXTRA_CA_CERTS must be the absolute path.*npx ferry hub ca/);
  const noCs = run('receive.mjs', [], { FERRY_CA_FILE: hub.caFile });
  assert.equal(await noCs.exited, 1);
  assert.match(noCs.output(), /set DEVICE_CONNECTION_STRING.*npx ferry device create dev1/);
});
