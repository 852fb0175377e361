/**
 * Issue 30, a new user's first hour: `npm install -g ./packages/cli` (into a temporary prefix,
 * offline) gives a `ferry` that works from a folder outside the checkout, and the `az iot` habits
 * work against a real hub: `--version`, `device connection-string`, `sas-token`, `message send
 * --wait` (its own feedback, exit 1 on a negative outcome), `feedback --device --message-id`
 * (which takes nothing from the feedback queue), and the messages that changed.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDeviceConnectionString } from '@ferry/common';
import { type HubProcess, hubRequest, startHub } from './harness.js';

const T = { timeout: 120_000 };
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const prefix = mkdtempSync(join(tmpdir(), 'ferry-global-'));
/** Where the user stands: a folder with nothing of Ferry's in it. */
const elsewhere = mkdtempSync(join(tmpdir(), 'ferry-elsewhere-'));
const FERRY = join(prefix, 'bin', 'ferry');
let hub: HubProcess;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a shell outside the checkout: no npm_* variables, the prefix's bin first on the PATH. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('npm_')) env[k] = v;
  return { ...env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, ...extra };
}

/** `ferry ...` as the user types it, from `elsewhere`; standard input is empty (not a terminal). */
function ferry(args: string[], extra: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('ferry', args, { cwd: elsewhere, env: userEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
  // What the README says, with a temporary prefix instead of the global one; --offline proves
  // nothing is fetched (the @ferry/* packages are not on the registry).
  await new Promise<void>((resolve, reject) =>
    execFile(
      'npm',
      ['install', '-g', '--prefix', prefix, './packages/cli', '--offline', '--no-audit', '--no-fund'],
      { cwd: ROOT, timeout: 60_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`npm install -g failed: ${stderr}`)) : resolve()),
    ),
  );
});

after(async () => {
  await hub?.stop();
  rmSync(prefix, { recursive: true, force: true });
  rmSync(elsewhere, { recursive: true, force: true });
});

test('npm install -g ./packages/cli puts a working ferry on the PATH, outside the checkout', T, async () => {
  assert.ok(existsSync(FERRY), `no ${FERRY}`);
  assert.ok(!realpathSync(elsewhere).startsWith(realpathSync(ROOT)));
  const r = await ferry(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ferry 0\.1\.0 \(Node\.js v/);
  // With no local hub and no connection string, it says how to name one.
  const lost = await ferry(['device', 'list']);
  assert.equal(lost.code, 1);
  assert.match(lost.stderr, /no connection string: pass --connection-string, set FERRY_CONNECTION_STRING/);
  // Its hints name `ferry ...`, never `npx ferry`, which outside the checkout asks the registry.
  assert.match(lost.stderr, /start one with `ferry hub start`/);
});

test("device create, then message send --wait prints that message's feedback (Success, exit 0)", T, async () => {
  const created = await ferry(['device', 'create', 'g-1'], { FERRY_DATA_DIR: hub.dataDir });
  assert.equal(created.code, 0, created.stderr);
  assert.equal(parseDeviceConnectionString(created.stdout.trim()).deviceId, 'g-1');
  const sending = ferry([
    'message',
    'send',
    'g-1',
    'hello',
    '--message-id',
    'w-1',
    '--wait',
    '30',
    '--data-dir',
    hub.dataDir,
  ]);
  const received = await ferry(['message', 'receive', 'g-1', '--wait', '20', '--complete', '--data-dir', hub.dataDir]);
  assert.equal(received.code, 0, received.stderr);
  assert.match(received.stdout, /message id\s+w-1/);
  const sent = await sending;
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(sent.stdout, 'w-1\nfeedback: w-1 g-1 Success (Success)\n');
});

test(
  'message send --wait exits 1 on a negative outcome; feedback --device --message-id shows it and takes nothing',
  T,
  async () => {
    await ferry(['device', 'create', 'g-2', '--data-dir', hub.dataDir]);
    const sending = ferry([
      'message',
      'send',
      'g-2',
      'no',
      '--message-id',
      'n-1',
      '--wait',
      '30',
      '--data-dir',
      hub.dataDir,
    ]);
    const received = await ferry(['message', 'receive', 'g-2', '--wait', '20', '--reject', '--data-dir', hub.dataDir]);
    assert.equal(received.code, 0, received.stderr);
    const sent = await sending;
    assert.equal(sent.code, 1, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /^feedback: n-1 g-2 Rejected/m);

    const view = await ferry([
      'feedback',
      '--device',
      'g-2',
      '--message-id',
      'n-1',
      '--json',
      '--data-dir',
      hub.dataDir,
    ]);
    assert.equal(view.code, 0, view.stderr);
    const records = view.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { originalMessageId: string; deviceId: string; statusCode: string });
    assert.deepEqual(
      records.map((r) => [r.originalMessageId, r.deviceId, r.statusCode]),
      [['n-1', 'g-2', 'Rejected']],
    );
    const none = await ferry(['feedback', '--device', 'g-2', '--message-id', 'w-1', '--data-dir', hub.dataDir]);
    assert.match(none.stdout, /No feedback for message w-1 of device g-2 among the hub's recent records/);

    // The records are still in the queue for the back ends: a consuming read gets both.
    const seen = new Set<string>();
    for (let i = 0; i < 5 && !(seen.has('w-1') && seen.has('n-1')); i++) {
      const batch = await ferry(['feedback', '--wait', '20', '--json', '--data-dir', hub.dataDir]);
      assert.equal(batch.code, 0, batch.stderr);
      const parsed = JSON.parse(batch.stdout) as { records: { originalMessageId: string }[] } | null;
      assert.ok(parsed, 'a batch');
      for (const r of parsed.records) seen.add(r.originalMessageId);
    }
    assert.ok(seen.has('w-1') && seen.has('n-1'), [...seen].join(', '));
  },
);

test("device connection-string prints the primary or the secondary key's string", T, async () => {
  const created = await ferry(['device', 'create', 'g-3', '--data-dir', hub.dataDir]);
  const primary = await ferry(['device', 'connection-string', 'g-3', '--data-dir', hub.dataDir]);
  assert.equal(primary.code, 0, primary.stderr);
  assert.equal(primary.stdout, created.stdout);
  const secondary = await ferry([
    'device',
    'connection-string',
    'g-3',
    '--key',
    'secondary',
    '--data-dir',
    hub.dataDir,
  ]);
  const shown = JSON.parse((await ferry(['device', 'show', 'g-3', '--data-dir', hub.dataDir])).stdout) as {
    authentication: { symmetricKey: { secondaryKey: string } };
  };
  assert.equal(
    parseDeviceConnectionString(secondary.stdout.trim()).sharedAccessKey,
    shown.authentication.symmetricKey.secondaryKey,
  );
  const missing = await ferry(['device', 'connection-string', 'nobody', '--data-dir', hub.dataDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /DeviceNotFound \(404001\)/);
});

test('sas-token --device and --policy print tokens the hub accepts, valid for --duration', T, async () => {
  await ferry(['device', 'create', 'g-4', '--data-dir', hub.dataDir]);
  const device = await ferry(['sas-token', '--device', 'g-4', '--duration', '120', '--data-dir', hub.dataDir]);
  assert.equal(device.code, 0, device.stderr);
  const token = device.stdout.trim();
  assert.match(token, /^SharedAccessSignature sr=.*devices%2Fg-4&sig=.*&se=\d+$/);
  const se = Number(/se=(\d+)/.exec(token)![1]);
  const now = Date.now() / 1000;
  assert.ok(se > now + 100 && se <= now + 121, `se ${se}`);
  const asDevice = await hubRequest(hub, 'GET', '/devices/g-4/messages/deviceBound?api-version=2021-04-12', {
    headers: { authorization: token },
  });
  assert.equal(asDevice.status, 204);

  // --policy from a connection string (no data directory): the key comes from the hub's /hubInfo.
  const policy = await ferry([
    'sas-token',
    '--policy',
    'registryRead',
    '--connection-string',
    hub.ownerConnectionString,
    '--ca',
    hub.caFile,
  ]);
  assert.equal(policy.code, 0, policy.stderr);
  assert.match(policy.stdout, /&skn=registryRead&se=\d+\n$/);
  const read = await hubRequest(hub, 'GET', '/devices/g-4?api-version=2021-04-12', {
    headers: { authorization: policy.stdout.trim() },
  });
  assert.equal(read.status, 200);
  // A policy with fewer rights cannot sign for one with more.
  const refused = await ferry(['sas-token', '--policy', 'iothubowner', '--ca', hub.caFile], {
    FERRY_CONNECTION_STRING: hub.connectionString('service'),
  });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /no shared access policy named iothubowner that service may sign for/);
});

test('a registryRead create names the policies that can create; an empty piped body is refused', T, async () => {
  const r = await ferry(['device', 'create', 'g-5', '--ca', hub.caFile], {
    FERRY_CONNECTION_STRING: hub.connectionString('registryRead'),
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /IotHubUnauthorizedAccess \(401002\)/);
  assert.match(
    r.stderr,
    /needs RegistryWrite: use the iothubowner or registryReadWrite connection string \(registryRead can only read\)/,
  );

  const empty = await ferry(['message', 'send', 'g-1', '--data-dir', hub.dataDir]);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no body: standard input was empty/);
});

test('the start banner names the console URL', () => {
  assert.match(hub.output(), new RegExp(`console {4}https://${hub.address.replace(/\./g, '\\.')}/console/ `));
});

test(
  'a bad expiry gets InvalidMessageExpiryTime over AMQP as over HTTPS, with dates, not milliseconds',
  T,
  async () => {
    await ferry(['device', 'create', 'g-6', '--data-dir', hub.dataDir]);
    const amqp = await ferry([
      'message',
      'send',
      'g-6',
      'x',
      '--expiry',
      '2000-01-01T00:00:00Z',
      '--data-dir',
      hub.dataDir,
    ]);
    assert.equal(amqp.code, 1);
    assert.match(
      amqp.stderr,
      /InvalidMessageExpiryTime \(403009\): the expiry must be in the future and at most 2 days from now \(c2d\.maxTtlMs\); got 2000-01-01T00:00:00\.000Z, now is 20/,
    );
    const service = await ferry(['sas-token', '--policy', 'service', '--data-dir', hub.dataDir]);
    const https = await hubRequest(hub, 'POST', '/devices/g-6/messages/deviceBound?api-version=2021-04-12', {
      headers: { authorization: service.stdout.trim(), 'iothub-expiry': '2000-01-01T00:00:00Z' },
      body: 'x',
    });
    assert.equal(https.status, 403);
    assert.equal(https.headers['iothub-errorcode'], 'InvalidMessageExpiryTime');
  },
);

test('receive explains a default expiry, and a queue whose message is locked', T, async () => {
  await ferry(['device', 'create', 'g-7', '--data-dir', hub.dataDir]);
  await ferry(['message', 'send', 'g-7', 'held', '--data-dir', hub.dataDir]);
  const first = await ferry(['message', 'receive', 'g-7', '--data-dir', hub.dataDir]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(
    first.stdout,
    /expiry\s+\(none set by the sender; the hub's default applies: c2d\.defaultTtlMs, 1 h after enqueued\)/,
  );
  const second = await ferry(['message', 'receive', 'g-7', '--data-dir', hub.dataDir]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^No message for g-7 right now\./m);
  assert.match(
    second.stdout,
    /^1 message is locked by an earlier receive \(the first until 20\d\d-.*\): a locked message stays invisible until/m,
  );
});

test('after a restart, device list keeps last activity and says what an empty one means', T, async () => {
  await ferry(['device', 'create', 'g-never', '--data-dir', hub.dataDir]);
  await hub.restart();
  const list = await ferry(['device', 'list', '--data-dir', hub.dataDir]);
  assert.equal(list.code, 0, list.stderr);
  // g-1 was active before the restart: its activity is kept in the store (hub-wide presence).
  assert.match(list.stdout, /^g-1 .* 20\d\d-\d\d-\d\dT[\d:.]+Z$/m);
  assert.match(list.stdout, /^g-never .*none yet$/m);
  assert.doesNotMatch(list.stdout, /0001-01-01T00:00:00Z {2}/);
  assert.match(list.stdout, /LAST ACTIVITY none yet: the device has not connected since it was created/);
});
