import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FerryError, parseHubConnectionString } from '@ferry/common';
import {
  formatFeedback,
  formatMessage,
  messageJson,
  type ReceivedMessage,
  settlementNote,
} from '../src/commands/message-print.js';
import { deviceHints, hubError } from '../src/hub-errors.js';
import type { HubTarget } from '../src/target.js';
import { bodyText, shellArg } from '../src/wire-text.js';

const ENQUEUED = Date.UTC(2030, 0, 1);

describe('a received message, printed', () => {
  const m: ReceivedMessage = {
    deviceId: 'dev 1',
    lockToken: '6f1c-lock',
    messageId: 'order-42',
    correlationId: 'c-1',
    ack: 'full',
    expiryTimeUtc: ENQUEUED + 3600_000,
    enqueuedTimeUtc: ENQUEUED,
    deliveryCount: 2,
    sequenceNumber: 7,
    contentType: 'application/json',
    properties: { zone: 'Zürich', 'a b': 'spaced' },
    body: Buffer.from('{"cmd":"reboot"}'),
  };

  test('readable form, JSON form and the settle hints', () => {
    const text = formatMessage(m);
    assert.match(text, /^Message for dev 1\n/);
    assert.match(text, /\n {2}message id {7}order-42\n/);
    assert.match(text, /\n {2}expiry {11}2030-01-01T01:00:00\.000Z\n/);
    assert.match(text, /\n {2}properties {7}zone=Zürich\n {19}a b=spaced\n/);
    assert.match(text, /\n {2}body {13}\{"cmd":"reboot"\}$/);
    const json = messageJson(m, 'abandon');
    assert.equal(json.body, '{"cmd":"reboot"}');
    assert.equal(json.bodyEncoding, 'utf8');
    assert.equal(json.settled, 'abandon');
    assert.equal(json.lockToken, '6f1c-lock');
    assert.equal(json.enqueuedTimeUtc, '2030-01-01T00:00:00.000Z');
    assert.match(settlementNote(m, 'abandon'), /delivery count 3/);
    assert.match(settlementNote(m, undefined), /npx ferry message complete 'dev 1' 6f1c-lock/);
  });

  test('what the wire did not carry shows as such', () => {
    const bare: ReceivedMessage = { deviceId: 'd', lockToken: 't', properties: {}, body: Buffer.alloc(0) };
    const text = formatMessage(bare);
    assert.match(text, /ack {14}none\n/);
    assert.match(
      text,
      /expiry {11}\(none set by the sender; the hub's default applies: c2d\.defaultTtlMs, 1 h after enqueued\)\n/,
    );
    assert.match(text, /delivery count {3}0\n/);
  });
});

describe('hub errors', () => {
  const target: HubTarget = {
    connectionString: '',
    cs: parseHubConnectionString('HostName=hub.local;SharedAccessKeyName=p;SharedAccessKey=AAAA'),
    ca: undefined,
    ports: {},
  };

  test('name and code, the text, then the hint for that name', () => {
    const err = hubError(new FerryError('PreconditionFailed', 'etag mismatch'), target, {
      PreconditionFailed: 'Fetch it again.',
    });
    assert.equal(err.message, 'PreconditionFailed (412001): etag mismatch\nFetch it again.');
    assert.equal(err.exitCode, 1);
  });

  test('an unknown device has one wording whatever the protocol said', () => {
    for (const text of ['Device x not found', 'amqp: no such device']) {
      const err = hubError(new FerryError('DeviceNotFound', text), target, deviceHints('x'), 'x');
      assert.equal(
        err.message,
        'DeviceNotFound (404001): device x is not registered, or is disabled\nCreate it with `npx ferry device create x` (`npx ferry device list` shows the devices; a disabled device takes no messages).',
      );
    }
  });

  test('unauthorized has a default hint; a refused connection says to start the hub', () => {
    assert.match(
      hubError(new FerryError('IotHubUnauthorizedAccess'), target).message,
      /\nThe connection string lacks the rights/,
    );
    const refused = new FerryError('ServiceUnavailable', 'lost', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    assert.match(
      hubError(refused, target).message,
      /^cannot reach the hub at hub\.local \(connection refused\)\. Is it running\?/,
    );
  });
});

describe('wire text', () => {
  test('bodies are text when they are printable UTF-8, else base64', () => {
    assert.deepEqual(bodyText(Buffer.from('a\tb\r\nc')), { text: 'a\tb\r\nc', encoding: 'utf8' });
    assert.deepEqual(bodyText(Buffer.from([0, 1, 0xff])), { text: 'AAH/', encoding: 'base64' });
    assert.deepEqual(bodyText(Buffer.from([0xc3])), { text: 'ww==', encoding: 'base64' });
    assert.deepEqual(bodyText(Buffer.alloc(0)), { text: '', encoding: 'utf8' });
  });

  test('shell quoting only when needed', () => {
    assert.equal(shellArg('dev-1.a_b'), 'dev-1.a_b');
    assert.equal(shellArg('dev 1'), "'dev 1'");
    assert.equal(shellArg("it's"), `'it'\\''s'`);
  });
});

test('feedback table', () => {
  const text = formatFeedback({
    enqueuedTimeUtc: ENQUEUED,
    records: [
      {
        originalMessageId: 'order-42',
        deviceId: 'dev1',
        statusCode: 'Success',
        description: 'Success',
        enqueuedTimeUtc: '2030-01-01T00:00:00.000Z',
        deviceGenerationId: 'g',
      },
    ],
  });
  assert.equal(
    text,
    [
      'Feedback batch of 1 record (enqueued 2030-01-01T00:00:00.000Z):',
      'ORIGINAL MESSAGE ID  DEVICE ID  STATUS   DESCRIPTION  ENQUEUED',
      'order-42             dev1       Success  Success      2030-01-01T00:00:00.000Z',
    ].join('\n'),
  );
});
