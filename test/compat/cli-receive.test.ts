/**
 * The long-running CLI commands on the SDKs: `ferry device receive` (a device simulator that
 * prints each message as it arrives, and with --method-status answers direct methods, which
 * `ferry method invoke` calls) and `ferry feedback --follow`; `ferry device send-event` sends
 * telemetry that lands in the event log; and `ferry device ...` does not load the hub's database driver.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_BIN, type HubProcess, startHub } from './harness.js';
import { eventsOnDisk } from './helpers/telemetry.js';

const T = { timeout: 60_000 };

interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Resolves once stdout + stderr hold `text`. */
  printed(text: string): Promise<void>;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

let hub: HubProcess;

function start(args: string[], nodeArgs: string[] = []): Running {
  const target = ['--connection-string', hub.ownerConnectionString, '--ca', hub.caFile];
  const child = spawn(process.execPath, [...nodeArgs, CLI_BIN, ...args, ...target]);
  let stdout = '';
  let stderr = '';
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
    wake();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    wake();
  });
  child.stdin.end();
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    child,
    printed: (text) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (stdout.includes(text) || stderr.includes(text)) resolve();
          else waiters.push(check);
        };
        done.then((r) => reject(new Error(`exited before printing "${text}": ${JSON.stringify(r)}`)));
        check();
      }),
    done,
  };
}

async function ok(args: string[]): Promise<string> {
  const r = await start(args).done;
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
});

after(async () => {
  await hub?.stop();
});

// HTTPS receiving is covered by `ferry message receive` (cli-message.test.ts).
for (const transport of ['mqtt', 'amqp']) {
  test(`device receive over ${transport} prints each message as it arrives and completes it`, T, async () => {
    const id = `sim-${transport}`;
    await ok(['device', 'create', id]);
    const receiver = start(['device', 'receive', id, '--transport', transport, '--count', '2']);
    await receiver.printed('Waiting for messages');
    await ok(['message', 'send', id, 'first', '--property', 'zone=north']);
    await receiver.printed('body             first');
    await ok(['message', 'send', id, 'second']);
    const r = await receiver.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Message for sim-\w+\n/);
    assert.match(r.stdout, /properties\s+zone=north\n/);
    assert.match(r.stdout, /body\s+second\n/);
    assert.equal(r.stdout.match(/Completed: removed from the queue\./g)?.length, 2);
    assert.match(await ok(['message', 'receive', id]), /No message/);
  });
}

test('device receive --abandon over MQTT is refused before connecting, in one line', T, async () => {
  const r = await start(['device', 'receive', 'sim-mqtt', '--abandon']).done;
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^ferry: MQTT cannot abandon messages .*use --transport amqp or https \(run `ferry device --help` for usage\)\n$/,
  );
});

test('feedback --follow prints each batch as it comes until stopped', T, async () => {
  await ok(['device', 'create', 'follow-dev']);
  const follower = start(['feedback', '--follow']);
  await follower.printed('Waiting for feedback');
  const id = (await ok(['message', 'send', 'follow-dev', 'x', '--ack', 'full'])).trim();
  await ok(['message', 'receive', 'follow-dev', '--complete']);
  await follower.printed(id);
  follower.child.kill('SIGINT');
  const r = await follower.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^${id}\\s+follow-dev\\s+Success\\s+Success`, 'm'));
  assert.match(r.stdout, /Completed the batch/);
});

test('`ferry device` talks to a hub without loading the hub package (better-sqlite3)', T, async () => {
  const probe = join(mkdtempSync(join(tmpdir(), 'ferry-probe-')), 'probe.mjs');
  writeFileSync(
    probe,
    [
      "import { createRequire } from 'node:module';",
      'const require = createRequire(import.meta.url);',
      "const loaded = () => Object.keys(require.cache).some((k) => k.includes('better-sqlite3'));",
      "process.on('exit', () => process.stderr.write('better-sqlite3 loaded: ' + loaded() + '\\n'));",
    ].join('\n'),
  );
  const r = await start(['device', 'list'], ['--import', probe]).done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^DEVICE ID/);
  assert.match(r.stderr, /better-sqlite3 loaded: false/);
});

for (const transport of ['mqtt', 'amqp']) {
  test(
    `device receive --method-status over ${transport} answers method invoke, which prints status and payload`,
    T,
    async () => {
      const id = `meth-${transport}`;
      await ok(['device', 'create', id]);
      const device = start([
        'device',
        'receive',
        id,
        '--transport',
        transport,
        '--method-status',
        '201',
        '--method-payload',
        '{"ok":true}',
      ]);
      await device.printed('Waiting for messages and method calls (answered 201)');
      const r = await start(['method', 'invoke', id, 'reboot', '--payload', '{"delay":5}', '--timeout', '10']).done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'Status: 201\nPayload: {\n  "ok": true\n}\n');
      assert.match(r.stderr, /^Calling reboot on meth-\w+; waiting up to 10 s for meth-\w+ to answer\.\.\.\n/);
      await device.printed('Method reboot called with {"delay":5}; answered 201 {"ok":true}');
      device.child.kill('SIGINT');
      assert.equal((await device.done).code, 0);
    },
  );
}

test(
  'method invoke: an offline device is DeviceNotOnline with what to do; bad flags are one usage line',
  T,
  async () => {
    await ok(['device', 'create', 'meth-offline']);
    const offline = await start(['method', 'invoke', 'meth-offline', 'reboot']).done;
    assert.equal(offline.code, 1);
    assert.match(
      offline.stderr,
      /ferry: DeviceNotOnline \(404103\): .*\n.*ferry device receive meth-offline --method-status 200.*--connect-timeout/,
    );
    const typo = await start(['method', 'invoke', 'meth-offline', 'reboot', '--paylod', '{}']).done;
    assert.equal(typo.code, 2);
    assert.match(
      typo.stderr,
      /^ferry: unknown option --paylod — did you mean --payload\? \(run `ferry method --help` for usage\)\n$/,
    );
    const bad = await start(['method', 'invoke', 'meth-offline', 'reboot', '--timeout', '2']).done;
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout takes whole seconds from 5 to 300; got "2"/);
    const https = await start(['device', 'receive', 'meth-offline', '--transport', 'https', '--method-status', '200'])
      .done;
    assert.equal(https.code, 2);
    assert.match(https.stderr, /direct methods need .*mqtt/);
  },
);

// Last: it stops the hub to read the event log.
test('device send-event over every transport: the events are in the log with their properties', T, async () => {
  await ok(['device', 'create', 'tel-cli']);
  for (const transport of ['mqtt', 'amqp-ws', 'https']) {
    const out = await ok([
      'device',
      'send-event',
      'tel-cli',
      `{"via":"${transport}"}`,
      '--transport',
      transport,
      '--property',
      'zone=north',
      '--content-type',
      'application/json',
    ]);
    assert.match(out, new RegExp(`^Sent the event as tel-cli over ${transport}; the hub has it\\.\\n$`));
  }
  await hub.stop();
  const events = (await eventsOnDisk(hub.dataDir)).filter((e) => e.deviceId === 'tel-cli');
  assert.deepEqual(events.map((e) => e.body).sort(), ['{"via":"amqp-ws"}', '{"via":"https"}', '{"via":"mqtt"}']);
  for (const e of events) {
    assert.equal(e.properties.zone, 'north');
    assert.equal(e.system['content-type'], 'application/json');
  }
});
