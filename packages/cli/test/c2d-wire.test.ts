import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatFeedback, formatMessage, messageJson, settlementNote } from '../src/commands/message-print.js';
import { messageFromReply } from '../src/device-c2d.js';
import { type HubReply, hubError } from '../src/hub-http.js';
import { etagToken } from '../src/service-c2d.js';
import { bodyText, fromHeaderValue, headerValue, shellArg } from '../src/wire-text.js';

function reply(status: number, headers: HubReply['headers'], body: string | Buffer = ''): HubReply {
  return { status, headers, body: Buffer.from(body) };
}

describe('a received message from the hub headers', () => {
  // As the hub's deliveryHeaders sends them (Node lower-cases names on the way in).
  const headers = {
    etag: '"6f1c-lock"',
    'content-type': 'application/octet-stream',
    'iothub-messageid': 'order-42',
    'iothub-correlationid': 'c-1',
    'iothub-sequencenumber': '7',
    'iothub-enqueuedtime': '2030-01-01T00:00:00.000Z',
    'iothub-expiry': '2030-01-01T01:00:00.000Z',
    'iothub-deliverycount': '2',
    'iothub-ack': 'full',
    contenttype: 'application/json',
    'iothub-app-zone': headerValue('Zürich'),
    'iothub-app-a%20b': 'spaced',
  };

  test('every field, properties decoded back to Unicode, percent-encoded names decoded', () => {
    const m = messageFromReply('dev1', reply(200, headers, '{"cmd":"reboot"}'));
    assert.deepEqual(m, {
      deviceId: 'dev1',
      lockToken: '6f1c-lock',
      messageId: 'order-42',
      correlationId: 'c-1',
      userId: undefined,
      ack: 'full',
      expiryTimeUtc: '2030-01-01T01:00:00.000Z',
      enqueuedTimeUtc: '2030-01-01T00:00:00.000Z',
      deliveryCount: 2,
      sequenceNumber: 7,
      contentType: 'application/json',
      contentEncoding: undefined,
      properties: { zone: 'Zürich', 'a b': 'spaced' },
      body: Buffer.from('{"cmd":"reboot"}'),
    });
  });

  test('no ETag is a broken answer, not a message', () => {
    assert.throws(() => messageFromReply('dev1', reply(200, {})), /without an ETag/);
  });

  test('readable form, JSON form and the settle hints', () => {
    const m = messageFromReply('dev 1', reply(200, headers, '{"cmd":"reboot"}'));
    const text = formatMessage(m);
    assert.match(text, /^Message for dev 1\n/);
    assert.match(text, /\n {2}message id {7}order-42\n/);
    assert.match(text, /\n {2}properties {7}zone=Zürich\n {19}a b=spaced\n/);
    assert.match(text, /\n {2}body {13}\{"cmd":"reboot"\}$/);
    const json = messageJson(m, 'abandon');
    assert.equal(json.body, '{"cmd":"reboot"}');
    assert.equal(json.bodyEncoding, 'utf8');
    assert.equal(json.settled, 'abandon');
    assert.equal(json.lockToken, '6f1c-lock');
    assert.match(settlementNote(m, 'abandon'), /delivery count 3/);
    assert.match(settlementNote(m, undefined), /npx ferry message complete 'dev 1' 6f1c-lock/);
  });
});

describe('hub errors', () => {
  const body = JSON.stringify({
    Message: 'ErrorCode:DeviceNotFound;Device x not found',
    ExceptionMessage: 'Tracking ID:1',
  });

  test('name from iothub-errorcode, text from the body, then the hint for that name', () => {
    const err = hubError(reply(404, { 'iothub-errorcode': 'DeviceNotFound' }, body), {
      DeviceNotFound: 'Create it.',
    });
    assert.equal(err.message, 'the hub answered 404: DeviceNotFound: Device x not found\nCreate it.');
    assert.equal(err.exitCode, 1);
  });

  test('without the header the name comes from the body; a body that is not JSON is shown as is', () => {
    assert.equal(hubError(reply(404, {}, body)).message, 'the hub answered 404: DeviceNotFound: Device x not found');
    assert.equal(hubError(reply(502, {}, 'Bad Gateway')).message, 'the hub answered 502: Bad Gateway');
    assert.equal(hubError(reply(500, {})).message, 'the hub answered 500: (no body)');
  });

  test('unauthorized has a default hint', () => {
    const err = hubError(
      reply(
        401,
        { 'iothub-errorcode': 'IotHubUnauthorizedAccess' },
        '{"Message":"ErrorCode:IotHubUnauthorizedAccess;no"}',
      ),
    );
    assert.match(err.message, /\nThe connection string lacks the rights/);
  });
});

describe('wire text', () => {
  test('header values carry UTF-8 bytes and come back as the same text', () => {
    assert.equal(headerValue('plain'), 'plain');
    assert.equal(headerValue('ü'), '\u00c3\u00bc');
    assert.equal(fromHeaderValue(headerValue('Zürich ✓')), 'Zürich ✓');
    // Latin-1 text that is not UTF-8 stays as received.
    assert.equal(fromHeaderValue('\u00fc'), '\u00fc');
  });

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

  test('ETag lock tokens lose their quotes', () => {
    assert.equal(etagToken('"abc"'), 'abc');
    assert.equal(etagToken('abc'), 'abc');
    assert.equal(etagToken(undefined), undefined);
  });
});

test('feedback table', () => {
  const text = formatFeedback({
    lockToken: 't',
    enqueuedTimeUtc: '2030-01-01T00:00:00.000Z',
    deliveryCount: 0,
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
      'Feedback batch of 1 record (enqueued 2030-01-01T00:00:00.000Z, delivery count 0):',
      'ORIGINAL MESSAGE ID  DEVICE ID  STATUS   DESCRIPTION  ENQUEUED',
      'order-42             dev1       Success  Success      2030-01-01T00:00:00.000Z',
    ].join('\n'),
  );
});
