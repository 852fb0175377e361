/**
 * `ferry message ...` and `ferry feedback` (the built CLI) against a real hub: the README quick
 * start (create, send with full feedback, receive and complete as the device, see Success),
 * abandon and reject, settling by lock token, purge, --wait, and the errors users meet.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_BIN, type HubProcess, startHub } from './harness.js';

const T = { timeout: 60_000 };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  /** Resolves once stderr contains `text`. */
  printed(text: string): Promise<void>;
  done: Promise<Result>;
}

let hub: HubProcess;

/** Starts the CLI against the test hub; stdin gets `input` (or nothing) and is closed. */
function start(args: string[], input?: string, connectionString = hub.ownerConnectionString): Running {
  const target = ['--connection-string', connectionString, '--ca', hub.caFile];
  const child = spawn(process.execPath, [CLI_BIN, ...args, ...target], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    for (const w of waiters.filter((x) => stderr.includes(x.text))) w.resolve();
  });
  child.stdin.end(input);
  const done = new Promise<Result>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return {
    printed: (text) =>
      stderr.includes(text)
        ? Promise.resolve()
        : new Promise((resolve, reject) => {
            waiters.push({ text, resolve });
            done.then((r) => reject(new Error(`exited before printing "${text}": ${JSON.stringify(r)}`)));
          }),
    done,
  };
}

const ferry = (args: string[], input?: string, connectionString?: string) => start(args, input, connectionString).done;

async function ok(args: string[], input?: string): Promise<string> {
  const r = await ferry(args, input);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface FeedbackJson {
  records: Array<{ originalMessageId: string; deviceId: string; statusCode: string; description: string }>;
  completed: boolean;
}

/** Feedback batches until one carries a record of `messageId` (other tests' records may come first). */
async function feedbackFor(messageId: string): Promise<FeedbackJson['records'][number]> {
  for (let i = 0; i < 10; i++) {
    const batch = JSON.parse(await ok(['feedback', '--wait', '30', '--json'])) as FeedbackJson | null;
    assert.ok(batch, 'no feedback within 30 s');
    assert.equal(batch.completed, true);
    const record = batch.records.find((r) => r.originalMessageId === messageId);
    if (record) return record;
  }
  throw new Error(`no feedback record for ${messageId}`);
}

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
});

after(async () => {
  await hub?.stop();
});

test(
  'quick start: create, send asking for full feedback, receive and complete, feedback shows Success',
  T,
  async () => {
    assert.match(await ok(['device', 'create', 'qs-dev']), /^HostName=.*;DeviceId=qs-dev;SharedAccessKey=/);
    const sent = await ok([
      'message',
      'send',
      'qs-dev',
      '{"cmd":"reboot"}',
      '--ack',
      'full',
      '--message-id',
      'order-42',
      '--content-type',
      'application/json',
      '--property',
      'priority=high',
    ]);
    assert.equal(sent, 'order-42\n');

    const received = await ok(['message', 'receive', 'qs-dev', '--complete']);
    assert.match(received, /message id\s+order-42\n/);
    assert.match(received, /ack\s+full\n/);
    assert.match(received, /content type\s+application\/json\n/);
    assert.match(received, /properties\s+priority=high\n/);
    assert.match(received, /body\s+\{"cmd":"reboot"\}\n/);
    assert.match(received, /Completed: removed from the queue\./);

    const shown = await ok(['feedback', '--wait', '30']);
    assert.match(shown, /^ORIGINAL MESSAGE ID\s+DEVICE ID\s+STATUS\s+DESCRIPTION\s+ENQUEUED$/m);
    assert.match(shown, /^order-42\s+qs-dev\s+Success\s+Success\s+\d{4}-/m);
    assert.match(shown, /Completed the batch/);
    assert.match(await ok(['feedback']), /No feedback waiting/);
    assert.match(await ok(['message', 'receive', 'qs-dev']), /No message for qs-dev right now/);
  },
);

test('receive without a choice leaves the message locked and prints how to settle it', T, async () => {
  await ok(['device', 'create', 'lock-dev']);
  const id = (await ok(['message', 'send', 'lock-dev', 'hello'])).trim();
  const received = await ok(['message', 'receive', 'lock-dev']);
  const token = /lock token\s+(\S+)/.exec(received)?.[1];
  assert.ok(token, received);
  assert.match(received, new RegExp(`message id\\s+${id}\\n`));
  assert.ok(received.includes(`npx ferry message complete lock-dev ${token}`), received);
  assert.match(await ok(['message', 'receive', 'lock-dev']), /No message/);

  assert.match(await ok(['message', 'complete', 'lock-dev', token]), /Completed the message of lock-dev/);
  const again = await ferry(['message', 'complete', 'lock-dev', token]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /DeviceMessageLockLost \(412002\): /);
  assert.match(again.stderr, /receive it again with `npx ferry message receive lock-dev`/);
});

test(
  'abandon puts the message back with a higher delivery count; reject dead-letters it with feedback',
  T,
  async () => {
    await ok(['device', 'create', 'ar-dev']);
    const id = (await ok(['message', 'send', 'ar-dev', 'twice', '--ack', 'negative'])).trim();
    const first = await ok(['message', 'receive', 'ar-dev', '--abandon']);
    assert.match(first, /delivery count\s+0\n/);
    assert.match(first, /Abandoned: back in the queue, offered again with delivery count 1\./);

    const second = JSON.parse(await ok(['message', 'receive', 'ar-dev', '--reject', '--json'])) as Record<
      string,
      unknown
    >;
    assert.equal(second.messageId, id);
    assert.equal(second.deliveryCount, 1);
    assert.equal(second.ack, 'negative');
    assert.equal(second.body, 'twice');
    assert.equal(second.settled, 'reject');
    assert.equal((await ok(['message', 'receive', 'ar-dev', '--json'])).trim(), 'null');

    const record = await feedbackFor(id);
    assert.equal(record.deviceId, 'ar-dev');
    assert.equal(record.statusCode, 'Rejected');
  },
);

test('body from stdin, Unicode properties and binary bodies survive the round trip', T, async () => {
  await ok(['device', 'create', 'body-dev']);
  await ok(['message', 'send', 'body-dev', '--property', 'zone=Zürich', '--correlation-id', 'c-1'], 'from stdin\n');
  const m = JSON.parse(await ok(['message', 'receive', 'body-dev', '--complete', '--json'])) as Record<string, unknown>;
  assert.equal(m.body, 'from stdin\n');
  assert.equal(m.bodyEncoding, 'utf8');
  assert.equal(m.correlationId, 'c-1');
  assert.deepEqual(m.properties, { zone: 'Zürich' });

  const file = join(mkdtempSync(join(tmpdir(), 'ferry-cli-body-')), 'body.bin');
  writeFileSync(file, Buffer.from([0, 1, 0xff]));
  await ok(['message', 'send', 'body-dev', '--body-file', file]);
  const binary = await ok(['message', 'receive', 'body-dev', '--complete']);
  assert.match(binary, /body size\s+3 bytes, not text: shown as base64\n\s+body\s+AAH\/\n/);
});

test('--wait keeps asking until a message arrives, saying that it waits', T, async () => {
  await ok(['device', 'create', 'wait-dev']);
  const receiving = start(['message', 'receive', 'wait-dev', '--wait', '50', '--complete']);
  await receiving.printed('Waiting for a message for wait-dev');
  await ok(['message', 'send', 'wait-dev', 'late', '--message-id', 'late-1']);
  const r = await receiving.done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /message id\s+late-1\n/);
  assert.match(r.stdout, /Completed/);
});

test('purge empties the queue, locked messages included, and says how many', T, async () => {
  await ok(['device', 'create', 'purge-dev']);
  for (const body of ['a', 'b', 'c']) await ok(['message', 'send', 'purge-dev', body]);
  await ok(['message', 'receive', 'purge-dev']); // one locked
  assert.equal(await ok(['message', 'purge', 'purge-dev']), 'Purged 3 messages from the queue of purge-dev.\n');
  assert.match(await ok(['message', 'receive', 'purge-dev']), /No message/);
  assert.equal(await ok(['message', 'purge', 'purge-dev']), 'Purged 0 messages from the queue of purge-dev.\n');
});

test('an unknown device: the hub error name and text, and how to create it', T, async () => {
  for (const args of [
    ['message', 'send', 'no-such-dev', 'x'],
    ['message', 'receive', 'no-such-dev'],
    ['message', 'purge', 'no-such-dev'],
  ]) {
    const r = await ferry(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /^ferry: DeviceNotFound \(404001\): device no-such-dev is not registered, or is disabled\n/);
    assert.match(r.stderr, /Create it with `npx ferry device create no-such-dev`/);
    assert.equal(r.stdout, '');
  }
});

test('a policy without the right permission is told which one to use', T, async () => {
  const receive = await ferry(['message', 'receive', 'qs-dev'], undefined, hub.connectionString('service'));
  assert.equal(receive.code, 1);
  assert.match(receive.stderr, /IotHubUnauthorizedAccess \(401002\)/);
  assert.match(receive.stderr, /iothubowner or registryRead connection string/);
  const send = await ferry(['message', 'send', 'qs-dev', 'x'], undefined, hub.connectionString('registryRead'));
  assert.equal(send.code, 1);
  assert.match(send.stderr, /IotHubUnauthorizedAccess \(401002\)/);
  assert.match(send.stderr, /need ServiceConnect: use the iothubowner or service connection string/);
});

test('misspelled flags and commands are refused with a suggestion, before any request', T, async () => {
  const send = await ferry(['message', 'send', 'qs-dev', 'x', '--ak', 'full']);
  assert.equal(send.code, 2);
  assert.match(send.stderr, /^ferry: unknown option --ak — did you mean --ack\?/);
  assert.match(send.stderr, /\(run `ferry message --help` for usage\)\n$/);
  const ack = await ferry(['message', 'send', 'qs-dev', 'x', '--ack', 'ful']);
  assert.equal(ack.code, 2);
  assert.match(ack.stderr, /--ack must be one of none, positive, negative, full; got "ful" — did you mean full\?/);
  const feedback = await ferry(['feedback', '--wiat', '3']);
  assert.equal(feedback.code, 2);
  assert.match(feedback.stderr, /unknown option --wiat — did you mean --wait\?/);
  const command = await ferry(['message', 'recieve', 'qs-dev']);
  assert.equal(command.code, 2);
  assert.match(command.stderr, /did you mean `ferry message receive`\?/);
  // Nothing was sent by the refused command.
  assert.match(await ok(['message', 'receive', 'qs-dev']), /No message/);
});
