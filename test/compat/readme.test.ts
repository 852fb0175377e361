/**
 * Issue 30: the README's quick start and official-SDK section work verbatim. Every ```sh block of
 * those two sections is run as written, in order, with bash, in the checkout, against one hub
 * on a fresh data directory, and its output is checked.
 *
 * What the test does around the blocks, and why:
 * - The first block is `npm ci && npm start` (the user's first terminal). `npm ci` has run
 *   already (the tests run from the checkout), and the hub must listen on this test's own
 *   loopback address, so the test starts it itself (harness startHub: `ferry hub start` on a
 *   fresh data directory) instead of running that block; the test checks the block says exactly
 *   that, and test/compat/npm-start.test.ts covers `npm start` itself.
 * - FERRY_DATA_DIR points at that hub's data directory: it stands for `./ferry-data`, which
 *   `npm start` would have made in the checkout.
 * - npm_config_prefix points `npm install -g` at a temporary folder, whose bin/ is put first on
 *   the PATH, as the global prefix's is for a user: the block runs as written without touching
 *   this machine's global packages.
 * - feedback.batchDelayMs is 0, so feedback waits take milliseconds rather than 15 s; the blocks
 *   do not depend on it.
 * - Standard input is empty and not a terminal, as in a script.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type HubProcess, startHub } from './harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const T = { timeout: 120_000 };
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const prefix = mkdtempSync(join(tmpdir(), 'ferry-readme-prefix-'));
let hub: HubProcess;

/** The ```sh blocks of the section whose heading starts with `heading`, in order. */
function shellBlocks(heading: string): string[] {
  const start = README.indexOf(`\n## ${heading}`);
  assert.ok(start >= 0, `README has no section "## ${heading}"`);
  const next = README.indexOf('\n## ', start + 1);
  const section = README.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const quickStart = shellBlocks('Quick start');
const officialSdk = shellBlocks('Using the official Azure IoT SDKs');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runBlock(block: string): Promise<Ran> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('npm_')) env[k] = v;
    const child = spawn('bash', ['-c', block], {
      cwd: ROOT,
      env: {
        ...env,
        FERRY_DATA_DIR: hub.dataDir,
        npm_config_prefix: prefix,
        PATH: `${join(prefix, 'bin')}:${process.env.PATH}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ranOk(block: string): Promise<Ran> {
  const r = await runBlock(block);
  assert.equal(r.code, 0, `block failed:\n${block}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^ferry: (?!note)/m, `a ferry command failed:\n${block}\n${r.stderr}`);
  return r;
}

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
});

after(async () => {
  await hub?.stop();
  rmSync(prefix, { recursive: true, force: true });
});

test('the README starts with the commands to set up, run and test', () => {
  const first = /```sh\n([\s\S]*?)```/.exec(README)?.[1] ?? '';
  assert.match(first, /^npm ci && npm start\s/m);
  assert.match(first, /^npm test\s/m);
  assert.match(first, /^npm install -g \.\/packages\/cli\s/m);
  for (const [, block] of README.matchAll(/```sh\n([\s\S]*?)```/g)) {
    assert.doesNotMatch(
      block!,
      /npx ferry/,
      'outside the checkout `npx ferry` asks the registry; the README says ferry',
    );
  }
});

test('quick start, verbatim: create, send, receive and complete, feedback; send --wait', T, async () => {
  assert.equal(quickStart.length, 3, 'the quick start has three shell blocks');
  assert.equal(
    quickStart[0]!.trim(),
    'npm ci && npm start',
    'the first block starts the hub (the test starts it itself)',
  );

  const walk = await ranOk(quickStart[1]!);
  assert.match(
    walk.stdout,
    new RegExp(`^HostName=${hub.address.replace(/\./g, '\\.')};DeviceId=dev1;SharedAccessKey=`, 'm'),
  );
  assert.match(walk.stdout, /^order-42$/m);
  assert.match(walk.stdout, /message id\s+order-42/);
  assert.match(walk.stdout, /content type\s+application\/json/);
  assert.match(walk.stdout, /body\s+\{"cmd":"reboot"\}/);
  assert.match(walk.stdout, /order-42\s+dev1\s+Success/);

  const wait = await ranOk(quickStart[2]!);
  assert.match(wait.stdout, /^hello-1$/m);
  assert.match(wait.stdout, /^feedback: hello-1 dev1 Success \(Success\)$/m);
  // The last command shows the record again: the view took nothing.
  assert.match(wait.stdout, /^hello-1 {2}dev1 {2}Success/m);
});

test('official SDKs, verbatim: the device receives over MQTT, the back end gets Success feedback', T, async () => {
  assert.equal(officialSdk.length, 1, 'the official-SDK section has one shell block');
  const block = officialSdk[0]!;
  const r = await ranOk(block);
  // The block's comments show its output, with a made-up message id: each line must appear.
  const expected = block
    .split('\n')
    .filter((l) => l.startsWith('# '))
    .map((l) => l.slice(2));
  assert.ok(expected.length >= 3, 'the block shows what it prints');
  for (const line of expected) {
    const pattern = line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/example-\d+/g, 'example-\\d+');
    assert.match(r.stdout, new RegExp(`^${pattern}$`, 'm'), `expected "${line}" in:\n${r.stdout}\n${r.stderr}`);
  }
});
