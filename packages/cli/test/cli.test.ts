import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { run } from '../src/cli.js';
import type { Io } from '../src/io.js';
import { table } from '../src/table.js';

const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ferry-cli-test-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function ferry(args: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), env };
  const code = await run(args, io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('usage errors', () => {
  test('a misspelled flag is named, the right one suggested, usage shown, exit 2', async () => {
    const r = await ferry(['hub', 'start', '--data-dri', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ferry: unknown option --data-dri — did you mean --data-dir\?/);
    assert.match(r.stderr, /\(run `ferry hub start --help` for usage\)$/);
    assert.equal(r.stdout, '');
  });

  test('unknown commands list the commands', async () => {
    const r = await ferry(['hub', 'launch']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'ferry: unknown command `ferry hub launch` (run `ferry --help` for usage)');
    assert.equal((await ferry(['devices', 'list'])).code, 2);
  });

  test('--help prints the usage on stdout and exits 0', async () => {
    const r = await ferry(['device', 'create', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /ferry device create <id>/);
    assert.equal((await ferry(['--help'])).code, 0);
  });

  test('no command prints the usage and exits 2', async () => {
    const r = await ferry([]);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /Usage: ferry <group> <command>/);
  });

  test('--version prints the version and exits 0 (issue 30)', async () => {
    const r = await ferry(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^ferry \d+\.\d+\.\d+ \(Node\.js v\d+/);
  });

  test('--help lists every command in groups, as az does (issue 30)', async () => {
    const { stdout } = await ferry(['--help']);
    for (const group of ['Hub', 'Devices', 'Credentials', 'Cloud-to-device messages', 'Feedback']) {
      assert.match(stdout, new RegExp(`^${group}( |$)`, 'm'), group);
    }
    for (const command of [
      'hub start',
      'hub connection-string',
      'hub ca',
      'device create',
      'device connection-string',
      'device show',
      'device list',
      'device delete',
      'device import',
      'device cert',
      'device receive',
      'ca-cert add',
      'sas-token --device',
      'message send',
      'message receive',
      'message complete',
      'message purge',
      'feedback --device',
    ]) {
      assert.ok(stdout.includes(`  ${command}`), command);
    }
  });

  test('sas-token and device connection-string check their flags before asking the hub (issue 30)', async () => {
    let r = await ferry(['sas-token']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /give --device <id> or --policy <name>/);
    r = await ferry(['sas-token', '--device', 'd', '--policy', 'service']);
    assert.equal(r.code, 2);
    r = await ferry(['sas-token', '--device', 'd', '--duration', '0']);
    assert.match(r.stderr, /--duration takes whole seconds above 0; got "0"/);
    r = await ferry(['device', 'connection-string', 'd', '--key', 'tertiary']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--key is primary or secondary; got "tertiary"/);
    r = await ferry(['feedback', '--device', 'd', '--no-complete']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /never complete a batch/);
  });

  test('device create without an id', async () => {
    const r = await ferry(['device', 'create']);
    assert.equal(r.code, 2);
    // One line that says "ferry" once, and where the usage is (issue #12).
    assert.equal(r.stderr, 'ferry: device create needs a device id (run `ferry device --help` for usage)');
  });

  test('a bad config value stops hub start with the option named', async () => {
    const dataDir = freshDir();
    const file = join(dataDir, 'c.json');
    writeFileSync(file, JSON.stringify({ c2d: { lockTimeotMs: 5 } }));
    const r = await ferry(['hub', 'start', '--data-dir', dataDir, '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown option c2d\.lockTimeotMs — did you mean c2d\.lockTimeoutMs\?/);
    const bad = await ferry(['hub', 'start', '--data-dir', dataDir, '--port-https', 'none']);
    assert.match(
      bad.stderr,
      /ports\.https must be a whole number from 0 to 65535, got "none" \(from the command line\)/,
    );
    const env = await ferry(['hub', 'start', '--data-dir', dataDir], { FERRY_LOG_LEVEL: 'loud' });
    assert.match(env.stderr, /log\.level must be one of .* \(from environment variable FERRY_LOG_LEVEL\)/);
  });

  test('a config file that is not JSON is named', async () => {
    const dataDir = freshDir();
    const file = join(dataDir, 'c.json');
    writeFileSync(file, '{ nope');
    const r = await ferry(['hub', 'start', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`config file ${file} is not valid JSON`));
  });
});

describe('hub ca and hub connection-string', () => {
  test('hub ca prints only the CA path, creating it once', async () => {
    const dataDir = freshDir();
    const first = await ferry(['hub', 'ca', '--data-dir', dataDir]);
    assert.equal(first.code, 0);
    assert.equal(first.stdout, join(dataDir, 'tls', 'ca.pem'));
    assert.ok(existsSync(first.stdout));
    assert.equal((await ferry(['hub', 'ca', '--data-dir', dataDir])).stdout, first.stdout);
  });

  test('connection-string on a data dir without a hub says how to start one', async () => {
    const r = await ferry(['hub', 'connection-string', '--data-dir', freshDir()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no hub in .* yet: start one first with `npx ferry hub start/);
    assert.equal(r.stdout, '');
  });
});

describe('device commands without a hub', () => {
  test('no connection string and no data dir: the three ways to give one', async () => {
    const r = await ferry(['device', 'list', '--data-dir', join(freshDir(), 'missing')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--connection-string, set FERRY_CONNECTION_STRING/);
  });

  test('a malformed connection string is refused before any request', async () => {
    const r = await ferry(['device', 'list'], { FERRY_CONNECTION_STRING: 'HostName=x' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SharedAccessKeyName is missing/);
  });
});

test('table pads columns to the widest cell', () => {
  assert.equal(
    table(
      ['ID', 'STATUS'],
      [
        ['a-long-id', 'enabled'],
        ['b', 'disabled'],
      ],
    ),
    'ID         STATUS\na-long-id  enabled\nb          disabled',
  );
});
