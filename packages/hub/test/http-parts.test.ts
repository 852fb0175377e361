/** Unit tests of the HTTP gateway's small parts: router, ISO dates, header text, error body. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isFerryError } from '@ferry/common';
import { errorBody } from '../src/gateways/http/errors.js';
import { HTTP_ROUTES } from '../src/gateways/http/gateway.js';
import { fromHeaderValue, toHeaderName, toHeaderValue } from '../src/gateways/http/headers.js';
import { hasFlag, lockToken, queryValue } from '../src/gateways/http/params.js';
import { Router } from '../src/gateways/http/router.js';
import { parseIsoDateTime } from '../src/iso-date.js';

describe('Router', () => {
  const router = new Router(HTTP_ROUTES);

  test('matches literals case-insensitively and decodes params after splitting', () => {
    const m = router.match('GET', '/DEVICES/dev%201%2Fx/Messages/DeviceBound');
    assert.equal(m.kind, 'found');
    if (m.kind === 'found') {
      assert.equal(m.route.path, '/devices/{id}/messages/deviceBound');
      assert.deepEqual(m.params, { id: 'dev 1/x' });
    }
  });

  test('a trailing slash is ignored once', () => {
    const m = router.match('GET', '/devices/');
    assert.equal(m.kind === 'found' && m.route.path, '/devices');
    assert.equal(router.match('GET', '/devices//').kind, 'none');
  });

  test('the same path with another method is wrong-method and lists the allowed ones', () => {
    const m = router.match('PATCH', '/devices/a/messages/deviceBound');
    assert.deepEqual(m, { kind: 'wrong-method', allowed: ['GET', 'POST'] });
  });

  test('the operation depends on the route: GET deviceBound is DeviceConnect, POST is ServiceConnect', () => {
    const get = router.match('GET', '/devices/a/messages/deviceBound');
    const post = router.match('POST', '/devices/a/messages/deviceBound');
    assert.ok(get.kind === 'found' && post.kind === 'found');
    assert.deepEqual(get.route.operation(get.params), { permission: 'DeviceConnect', deviceId: 'a' });
    assert.deepEqual(post.route.operation(post.params), { permission: 'ServiceConnect' });
  });

  test('bad percent-encoding throws ArgumentInvalid', () => {
    assert.throws(
      () => router.match('GET', '/devices/%zz'),
      (e: unknown) => isFerryError(e, 'ArgumentInvalid'),
    );
  });
});

describe('parseIsoDateTime', () => {
  const ok: Array<[string, string]> = [
    ['2030-01-01T00:00:00Z', '2030-01-01T00:00:00.000Z'],
    ['2030-01-01T00:00:00.123Z', '2030-01-01T00:00:00.123Z'],
    ['2030-01-01T00:00:00.1234567Z', '2030-01-01T00:00:00.123Z'],
    ['2030-01-01T02:00:00+02:00', '2030-01-01T00:00:00.000Z'],
    ['2029-12-31T22:30:00-01:30', '2030-01-01T00:00:00.000Z'],
    ['2030-01-01T02:00:00+0200', '2030-01-01T00:00:00.000Z'],
    ['2030-01-01T00:00:00', '2030-01-01T00:00:00.000Z'],
    ['2030-01-01T00:00Z', '2030-01-01T00:00:00.000Z'],
    ['2030-01-01', '2030-01-01T00:00:00.000Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    // IoT Hub's "never" (Date.UTC had read year 1 as 1901).
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
  ];
  for (const [text, iso] of ok) {
    test(`reads ${text}`, () => assert.equal(new Date(parseIsoDateTime(text)!).toISOString(), iso));
  }
  for (const bad of [
    '',
    '1',
    'tomorrow',
    'March 7, 2030',
    '2030-13-01T00:00:00Z',
    '2030-02-30T00:00:00Z',
    '2029-02-29',
    '2030-01-01T24:00:00Z',
    '2030-01-01T00:60:00Z',
    '2030-01-01T00:00:00+25:00',
    '2030-01-01 00:00:00Z',
    '2030-1-1',
  ]) {
    test(`refuses ${JSON.stringify(bad)}`, () => assert.equal(parseIsoDateTime(bad), undefined));
  }
});

describe('header text', () => {
  test('ASCII passes through; Unicode goes as UTF-8 bytes and comes back', () => {
    assert.equal(toHeaderValue('plain value'), 'plain value');
    const wire = toHeaderValue('Zürich ✓ 😀');
    assert.ok(/^[\x20-\xff]*$/.test(wire));
    assert.equal(fromHeaderValue(wire), 'Zürich ✓ 😀');
  });

  test('control characters are percent-encoded, tab is kept', () => {
    assert.equal(toHeaderValue('a\r\nb\u0000c\td'), 'a%0D%0Ab%00c\td');
  });

  test('Latin-1 text that is not UTF-8 is left as it came', () => {
    assert.equal(fromHeaderValue('caf\u00e9'), 'caf\u00e9');
  });

  test('property names that are not tokens are percent-encoded', () => {
    assert.equal(toHeaderName('my-prop_1.x'), 'my-prop_1.x');
    assert.equal(toHeaderName('with space'), 'with%20space');
    assert.equal(toHeaderName('a(b)'), 'a%28b%29');
    assert.equal(toHeaderName('ü'), '%C3%BC');
  });
});

describe('params', () => {
  test('lock tokens lose surrounding quotes only', () => {
    assert.equal(lockToken('"abc"'), 'abc');
    assert.equal(lockToken('abc'), 'abc');
    assert.equal(lockToken('"'), '"');
  });

  test('flags and values by case-insensitive key', () => {
    assert.equal(hasFlag(new URLSearchParams('api-version=1&reject'), 'reject'), true);
    assert.equal(hasFlag(new URLSearchParams('Reject=false'), 'reject'), true);
    assert.equal(hasFlag(new URLSearchParams('rejected'), 'reject'), false);
    assert.equal(queryValue(new URLSearchParams('API-VERSION=x'), 'api-version'), 'x');
    assert.equal(queryValue(new URLSearchParams('top=1'), 'api-version'), undefined);
  });
});

describe('error body', () => {
  test('is the legacy shape the Node SDK parses', () => {
    const b = errorBody('DeviceNotFound', 'Device a not found', 'abc', Date.UTC(2030, 0, 1));
    assert.deepEqual(b, {
      Message: 'ErrorCode:DeviceNotFound;Device a not found',
      ExceptionMessage: 'Tracking ID:abc-TimeStamp:2030-01-01T00:00:00.000Z',
    });
  });
});
