import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type DeviceConnectionString,
  formatDeviceConnectionString,
  formatHubConnectionString,
  type HubConnectionString,
  parseDeviceConnectionString,
  parseHubConnectionString,
} from '../src/connection-string.js';
import { isFerryError } from '../src/errors.js';

const KEY = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const SAS =
  'SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=BaF%2BShma5nnU4g3JqID0oLNesSZmpGDAjWTIW5Voc7M%3D&se=1767229200';

const argumentInvalid = (err: unknown) => isFerryError(err, 'ArgumentInvalid') && err.code === 400004;

describe('hub connection strings', () => {
  const vectors: Array<[string, HubConnectionString]> = [
    [
      `HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=${KEY}`,
      { hostName: 'localhost', sharedAccessKeyName: 'iothubowner', sharedAccessKey: KEY },
    ],
    [
      'HostName=localhost:25671;SharedAccessKeyName=service;SharedAccessKey=ab==',
      { hostName: 'localhost:25671', sharedAccessKeyName: 'service', sharedAccessKey: 'ab==' },
    ],
  ];
  for (const [text, cs] of vectors) {
    test(`parse ${text}`, () => assert.deepEqual(parseHubConnectionString(text), cs));
    test(`format ${text}`, () => assert.equal(formatHubConnectionString(cs), text));
    test(`round trip ${text}`, () => assert.deepEqual(parseHubConnectionString(formatHubConnectionString(cs)), cs));
  }

  test('any key order, a trailing ; and unknown keys are accepted', () => {
    assert.deepEqual(
      parseHubConnectionString(`SharedAccessKey=${KEY};Extra=1;SharedAccessKeyName=iothubowner;HostName=h;`),
      { hostName: 'h', sharedAccessKeyName: 'iothubowner', sharedAccessKey: KEY },
    );
  });

  const bad: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['garbage', 'not a connection string', /not Key=value/],
    ['missing HostName', `SharedAccessKeyName=iothubowner;SharedAccessKey=${KEY}`, /HostName is missing/],
    ['missing SharedAccessKeyName', `HostName=h;SharedAccessKey=${KEY}`, /SharedAccessKeyName is missing/],
    ['missing SharedAccessKey', 'HostName=h;SharedAccessKeyName=iothubowner', /SharedAccessKey is missing/],
    ['empty HostName', `HostName=;SharedAccessKeyName=p;SharedAccessKey=${KEY}`, /HostName is empty/],
    [
      'duplicated HostName',
      `HostName=a;HostName=b;SharedAccessKeyName=p;SharedAccessKey=${KEY}`,
      /HostName appears twice/,
    ],
    ['wrongly cased key', `hostname=h;SharedAccessKeyName=p;SharedAccessKey=${KEY}`, /found "hostname"/],
    ['no key before =', `=h;SharedAccessKeyName=p;SharedAccessKey=${KEY}`, /not Key=value/],
  ];
  for (const [name, text, message] of bad) {
    test(`refuses ${name}`, () => {
      assert.throws(() => parseHubConnectionString(text), argumentInvalid);
      assert.throws(() => parseHubConnectionString(text), message);
    });
  }

  test('format refuses a missing field and a ;', () => {
    assert.throws(
      () => formatHubConnectionString({ hostName: '', sharedAccessKeyName: 'p', sharedAccessKey: KEY }),
      argumentInvalid,
    );
    assert.throws(
      () => formatHubConnectionString({ hostName: 'h;x', sharedAccessKeyName: 'p', sharedAccessKey: KEY }),
      argumentInvalid,
    );
  });
});

describe('device connection strings', () => {
  const vectors: Array<[string, DeviceConnectionString]> = [
    [
      `HostName=localhost;DeviceId=dev1;SharedAccessKey=${KEY}`,
      { hostName: 'localhost', deviceId: 'dev1', sharedAccessKey: KEY },
    ],
    [
      // The SAS value holds '=', '&' and a space: only the first '=' separates key from value.
      `HostName=localhost;DeviceId=dev1;SharedAccessSignature=${SAS}`,
      { hostName: 'localhost', deviceId: 'dev1', sharedAccessSignature: SAS },
    ],
    ['HostName=localhost:18883;DeviceId=dev2;x509=true', { hostName: 'localhost:18883', deviceId: 'dev2', x509: true }],
    [
      `HostName=h;DeviceId=d;ModuleId=m;SharedAccessKeyName=device;SharedAccessKey=${KEY};GatewayHostName=gw`,
      {
        hostName: 'h',
        deviceId: 'd',
        moduleId: 'm',
        sharedAccessKeyName: 'device',
        sharedAccessKey: KEY,
        gatewayHostName: 'gw',
      },
    ],
  ];
  for (const [text, cs] of vectors) {
    test(`parse ${text}`, () => assert.deepEqual(parseDeviceConnectionString(text), cs));
    test(`format ${text}`, () => assert.equal(formatDeviceConnectionString(cs), text));
    test(`round trip ${text}`, () =>
      assert.deepEqual(parseDeviceConnectionString(formatDeviceConnectionString(cs)), cs));
  }

  test('x509 is read case-insensitively', () => {
    assert.equal(parseDeviceConnectionString('HostName=h;DeviceId=d;x509=TRUE').x509, true);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['garbage', ';;;junk;;', /not Key=value/],
    ['missing HostName', `DeviceId=d;SharedAccessKey=${KEY}`, /HostName is missing/],
    ['missing DeviceId', `HostName=h;SharedAccessKey=${KEY}`, /DeviceId is missing/],
    ['no credential', 'HostName=h;DeviceId=d', /one of SharedAccessKey, SharedAccessSignature or x509=true/],
    ['key and SAS', `HostName=h;DeviceId=d;SharedAccessKey=${KEY};SharedAccessSignature=${SAS}`, /only one of/],
    ['key and x509', `HostName=h;DeviceId=d;SharedAccessKey=${KEY};x509=true`, /only one of/],
    ['SAS and x509', `HostName=h;DeviceId=d;SharedAccessSignature=${SAS};x509=true`, /only one of/],
    ['x509=false', 'HostName=h;DeviceId=d;x509=false', /x509 must be "true"/],
    ['empty SharedAccessKey', 'HostName=h;DeviceId=d;SharedAccessKey=', /SharedAccessKey is empty/],
    ['empty ModuleId', `HostName=h;DeviceId=d;ModuleId=;SharedAccessKey=${KEY}`, /ModuleId is empty/],
    ['duplicated DeviceId', `HostName=h;DeviceId=a;DeviceId=b;SharedAccessKey=${KEY}`, /DeviceId appears twice/],
    ['wrongly cased key', `HostName=h;deviceId=d;SharedAccessKey=${KEY}`, /found "deviceId"/],
  ];
  for (const [name, text, message] of bad) {
    test(`refuses ${name}`, () => {
      assert.throws(() => parseDeviceConnectionString(text), argumentInvalid);
      assert.throws(() => parseDeviceConnectionString(text), message);
    });
  }

  test('format refuses what parse refuses', () => {
    assert.throws(() => formatDeviceConnectionString({ hostName: 'h', deviceId: 'd' }), argumentInvalid);
    assert.throws(
      () => formatDeviceConnectionString({ hostName: 'h', deviceId: 'd', sharedAccessKey: KEY, x509: true }),
      argumentInvalid,
    );
    assert.throws(
      () => formatDeviceConnectionString({ hostName: '', deviceId: 'd', sharedAccessKey: KEY }),
      argumentInvalid,
    );
  });
});
