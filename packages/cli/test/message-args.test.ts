import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { run } from '../src/cli.js';
import { parseFeedbackArgs } from '../src/commands/feedback.js';
import {
  parsePurgeArgs,
  parseReceiveArgs,
  parseSendArgs,
  parseSettleArgs,
  parseWait,
} from '../src/commands/message-args.js';
import { CliError, type Io } from '../src/io.js';

const dir = mkdtempSync(join(tmpdir(), 'ferry-cli-args-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function io(stdin?: string): Io & { errors: string[] } {
  const errors: string[] = [];
  return {
    errors,
    out: () => {},
    err: (t) => errors.push(t),
    env: {},
    readStdin: async () => (stdin === undefined ? undefined : Buffer.from(stdin)),
  };
}

/** Asserts a usage error (exit code 2) whose message matches. */
async function usageError(fn: () => unknown, message: RegExp): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (err: unknown) => {
      assert.ok(err instanceof CliError, String(err));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, message);
      return true;
    },
  );
}

const NOW = Date.parse('2030-01-01T00:00:00Z');

describe('message send', () => {
  test('every option lands in the request', async () => {
    const { deviceId, request, values } = await parseSendArgs(
      [
        'dev 1',
        'hello',
        '--ack',
        'full',
        '--message-id',
        'm-1',
        '--correlation-id',
        'c-1',
        '--content-type',
        'application/json',
        '--content-encoding',
        'utf-8',
        '--ttl',
        '90',
        '--property',
        'a=1',
        '--property',
        'b=x=y',
        '--connection-string',
        'HostName=h;SharedAccessKeyName=n;SharedAccessKey=k',
      ],
      io(),
      NOW,
    );
    assert.equal(deviceId, 'dev 1');
    assert.equal(values['connection-string'], 'HostName=h;SharedAccessKeyName=n;SharedAccessKey=k');
    assert.deepEqual(request, {
      body: Buffer.from('hello'),
      messageId: 'm-1',
      correlationId: 'c-1',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      ack: 'full',
      expiry: '2030-01-01T00:01:30.000Z',
      properties: { a: '1', b: 'x=y' },
    });
  });

  test('the body comes from the argument, else --body-file, else stdin, else is empty', async () => {
    const file = join(dir, 'body.bin');
    writeFileSync(file, Buffer.from([0, 1, 0xff]));
    assert.deepEqual((await parseSendArgs(['d', 'arg'], io('piped'))).request.body, Buffer.from('arg'));
    assert.deepEqual(
      (await parseSendArgs(['d', '--body-file', file], io('piped'))).request.body,
      Buffer.from([0, 1, 0xff]),
    );
    assert.deepEqual((await parseSendArgs(['d'], io('piped'))).request.body, Buffer.from('piped'));
    assert.deepEqual((await parseSendArgs(['d'], io())).request.body, Buffer.alloc(0));
    // A body that looks like a flag goes after `--`.
    assert.deepEqual((await parseSendArgs(['d', '--', '-1'], io())).request.body, Buffer.from('-1'));
    await usageError(() => parseSendArgs(['d', 'arg', '--body-file', file], io()), /not both/);
    // Issue 30: a script whose body came out empty is told so, not sent an empty message.
    await usageError(
      () => parseSendArgs(['d'], io('')),
      /no body: standard input was empty\. .*--allow-empty to send an empty message/,
    );
    assert.deepEqual((await parseSendArgs(['d', '--allow-empty'], io(''))).request.body, Buffer.alloc(0));
    await assert.rejects(parseSendArgs(['d', '--body-file', join(dir, 'missing')], io()), /no such file/);
  });

  test('--ack takes the four values, any case, and suggests the nearest', async () => {
    assert.equal((await parseSendArgs(['d', 'x', '--ack', 'Positive'], io())).request.ack, 'positive');
    assert.equal((await parseSendArgs(['d', 'x'], io())).request.ack, undefined);
    await usageError(
      () => parseSendArgs(['d', 'x', '--ack', 'negatve'], io()),
      /--ack must be one of none, positive, negative, full; got "negatve" — did you mean negative\?/,
    );
  });

  test('--expiry is passed as given; --ttl becomes now + seconds; not both', async () => {
    const given = await parseSendArgs(['d', 'x', '--expiry', '2030-01-02T03:04:05+01:00'], io(), NOW);
    assert.equal(given.request.expiry, '2030-01-02T03:04:05+01:00');
    await usageError(() => parseSendArgs(['d', 'x', '--expiry', 'tomorrow'], io()), /--expiry takes an ISO 8601/);
    await usageError(() => parseSendArgs(['d', 'x', '--expiry', '2030-13-45T00:00:00Z'], io()), /ISO 8601/);
    await usageError(() => parseSendArgs(['d', 'x', '--ttl', '0'], io()), /--ttl takes whole seconds above 0/);
    await usageError(() => parseSendArgs(['d', 'x', '--ttl', '1.5'], io()), /--ttl takes whole seconds/);
    await usageError(
      () => parseSendArgs(['d', 'x', '--ttl', '5', '--expiry', '2030-01-02T00:00:00Z'], io()),
      /--expiry or --ttl, not both/,
    );
  });

  test('--property: key=value, header-name keys, lower-cased with a note, no duplicates', async () => {
    const out = io();
    const { request } = await parseSendArgs(['d', 'x', '--property', 'Zone=Zürich'], out);
    assert.deepEqual(request.properties, { zone: 'Zürich' });
    assert.match(out.errors.join('\n'), /property Zone arrives as zone/);
    await usageError(() => parseSendArgs(['d', 'x', '--property', 'novalue'], io()), /--property takes key=value/);
    await usageError(() => parseSendArgs(['d', 'x', '--property', '=v'], io()), /--property takes key=value/);
    await usageError(() => parseSendArgs(['d', 'x', '--property', 'a b=1'], io()), /property name is a header name/);
    await usageError(() => parseSendArgs(['d', 'x', '--property', 'a=1\n2'], io()), /line breaks/);
    await usageError(() => parseSendArgs(['d', 'x', '--property', 'a=1', '--property', 'A=2'], io()), /given twice/);
    await usageError(() => parseSendArgs(['d', 'x', '--message-id', 'a\rb'], io()), /--message-id cannot contain/);
  });

  test('a device id is required and at most one body', async () => {
    await usageError(
      () => parseSendArgs([], io()),
      /^message send needs a device id \(run `ferry message --help` for usage\)$/,
    );
    await usageError(() => parseSendArgs(['d', 'a', 'b'], io()), /unexpected argument b/);
  });
});

describe('message receive, settle, purge and feedback', () => {
  test('receive: one settle choice at most, --wait in seconds, --json', () => {
    const plain = parseReceiveArgs(['dev']);
    assert.deepEqual([plain.deviceId, plain.settle, plain.waitMs, plain.json], ['dev', undefined, 0, false]);
    const all = parseReceiveArgs(['dev', '--reject', '--wait', '2.5', '--json']);
    assert.deepEqual([all.settle, all.waitMs, all.json], ['reject', 2500, true]);
    assert.equal(parseReceiveArgs(['dev', '--abandon']).settle, 'abandon');
    assert.equal(parseReceiveArgs(['dev', '--complete']).settle, 'complete');
    assert.throws(() => parseReceiveArgs(['dev', '--complete', '--reject']), /choose one of .*got --complete --reject/);
    assert.throws(() => parseReceiveArgs(['dev', '--wait', '10s']), /--wait takes seconds, like --wait 30; got "10s"/);
    assert.throws(() => parseReceiveArgs([]), /needs a device id/);
  });

  test('settle commands need the device id and the lock token', () => {
    const parsed = parseSettleArgs('reject', ['dev', 'tok-1']);
    assert.deepEqual([parsed.deviceId, parsed.lockToken], ['dev', 'tok-1']);
    assert.throws(() => parseSettleArgs('complete', ['dev']), /message complete needs the lock token/);
    assert.throws(() => parseSettleArgs('abandon', []), /message abandon needs a device id/);
  });

  test('purge takes one device id', () => {
    assert.equal(parsePurgeArgs(['dev']).deviceId, 'dev');
    assert.throws(() => parsePurgeArgs(['dev', 'extra']), /unexpected argument extra/);
  });

  test('feedback: completes unless --no-complete; --wait; no positionals', () => {
    assert.deepEqual((({ waitMs, json, complete }) => ({ waitMs, json, complete }))(parseFeedbackArgs([])), {
      waitMs: 0,
      json: false,
      complete: true,
    });
    const f = parseFeedbackArgs(['--no-complete', '--wait', '30', '--json']);
    assert.deepEqual([f.waitMs, f.json, f.complete], [30_000, true, false]);
    assert.throws(() => parseFeedbackArgs(['now']), /unexpected argument now/);
  });

  test('parseWait', () => {
    assert.equal(parseWait(undefined), 0);
    assert.equal(parseWait('0'), 0);
    assert.equal(parseWait('1.25'), 1250);
    assert.throws(() => parseWait('-1'), /--wait takes seconds/);
  });
});

describe('through the dispatcher', () => {
  async function ferry(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: {} });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }

  test('misspelled flags name the right one and show the command usage', async () => {
    const send = await ferry(['message', 'send', 'd', 'x', '--mesage-id', 'm']);
    assert.equal(send.code, 2);
    assert.match(send.stderr, /^ferry: unknown option --mesage-id — did you mean --message-id\?/);
    assert.match(send.stderr, /\(run `ferry message --help` for usage\)$/);
    assert.doesNotMatch(send.stderr, /Usage:/, 'one line, not the whole usage');
    const feedback = await ferry(['feedback', '--no-compete']);
    assert.match(feedback.stderr, /unknown option --no-compete — did you mean --no-complete\?/);
    assert.match(feedback.stderr, /run `ferry feedback --help`/);
  });

  test('unknown message commands suggest the nearest', async () => {
    const r = await ferry(['message', 'purg', 'd']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command `ferry message purg` — did you mean `ferry message purge`\?/);
  });

  test('--help prints each usage on stdout; the main usage lists the new commands', async () => {
    const message = await ferry(['message', '--help']);
    assert.equal(message.code, 0);
    assert.match(message.stdout, /ferry message receive <deviceId> \[--complete \| --reject \| --abandon\]/);
    assert.match((await ferry(['message', 'receive', '--help'])).stdout, /--wait SECONDS/);
    assert.match((await ferry(['feedback', '--help'])).stdout, /--no-complete/);
    const main = await ferry(['--help']);
    for (const c of ['message send', 'message receive', 'message complete', 'message purge', 'feedback']) {
      assert.ok(main.stdout.includes(c), c);
    }
    assert.equal((await ferry(['message'])).code, 2);
  });
});

describe('send --wait (issue 30)', () => {
  test('a bare --wait waits 60 s and asks for full feedback; a number is seconds; the body stays the body', async () => {
    const bare = await parseSendArgs(['d', '--wait', 'hello'], io());
    assert.equal(bare.waitMs, 60_000);
    assert.equal(bare.request.ack, 'full');
    assert.deepEqual(bare.request.body, Buffer.from('hello'));
    const last = await parseSendArgs(['d', 'hello', '--wait'], io());
    assert.equal(last.waitMs, 60_000);
    const timed = await parseSendArgs(['d', 'hello', '--wait', '5', '--ack', 'negative'], io());
    assert.equal(timed.waitMs, 5000);
    assert.equal(timed.request.ack, 'negative');
    assert.equal((await parseSendArgs(['d', 'hello'], io())).waitMs, undefined);
    await usageError(() => parseSendArgs(['d', 'x', '--wait', '--ack', 'none'], io()), /--ack none asks for none/);
  });
});
