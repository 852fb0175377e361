import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { isFerryError } from '../src/errors.js';
import {
  createSasToken,
  isSasExpired,
  type ParsedSasToken,
  parseSasToken,
  SAS_CLOCK_SKEW_MS,
  scopeCovers,
  signSas,
  splitResource,
  verifySasSignature,
} from '../src/sas.js';

// The official SDK is CommonJS with getter re-exports that ESM named imports cannot see.
const azure = createRequire(import.meta.url)('azure-iot-common') as typeof import('azure-iot-common');

const PRIMARY = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='; // 32 zero bytes
const SECONDARY = 'AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE='; // 32 bytes of 0x01
const OTHER = 'AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI='; // 32 bytes of 0x02
const SE = 1767229200; // 2026-01-01T01:00:00Z

/**
 * Golden vectors, computed once with Python's hmac module (not with this code) and written
 * literally, in the shapes the official clients send (official-sdk-wire.md 1.2).
 */
const VECTORS: Array<{ name: string; token: string; parsed: ParsedSasToken; key: string }> = [
  {
    name: 'device token, sr with upper-case %2F',
    token:
      'SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=BaF%2BShma5nnU4g3JqID0oLNesSZmpGDAjWTIW5Voc7M%3D&se=1767229200',
    parsed: {
      srRaw: 'localhost%2Fdevices%2Fdev1',
      sr: 'localhost/devices/dev1',
      sig: 'BaF+Shma5nnU4g3JqID0oLNesSZmpGDAjWTIW5Voc7M=',
      se: SE,
      skn: undefined,
    },
    key: PRIMARY,
  },
  {
    name: 'device token, host with port',
    token:
      'SharedAccessSignature sr=localhost%3A18883%2Fdevices%2Fdev2&sig=UmNevwYWFLxn%2BCADlSJry6DaGt6%2FTGbwawW6TEd7mhI%3D&se=1767229200',
    parsed: {
      srRaw: 'localhost%3A18883%2Fdevices%2Fdev2',
      sr: 'localhost:18883/devices/dev2',
      sig: 'UmNevwYWFLxn+CADlSJry6DaGt6/TGbwawW6TEd7mhI=',
      se: SE,
      skn: undefined,
    },
    key: PRIMARY,
  },
  {
    name: 'service token, sr a raw host',
    token:
      'SharedAccessSignature sr=localhost&sig=wjK%2BCMTpSBfvrKibsxN0%2BOl21U7Xduk2KYL3lb0B9pA%3D&skn=iothubowner&se=1767229200',
    parsed: {
      srRaw: 'localhost',
      sr: 'localhost',
      sig: 'wjK+CMTpSBfvrKibsxN0+Ol21U7Xduk2KYL3lb0B9pA=',
      se: SE,
      skn: 'iothubowner',
    },
    key: PRIMARY,
  },
  {
    name: 'service token, raw host with port',
    token:
      'SharedAccessSignature sr=localhost:25671&sig=69fIW%2FIxcXODABUjd%2BMU9O0dZi2mqArSlMIXHpKINBs%3D&skn=service&se=1767229200',
    parsed: {
      srRaw: 'localhost:25671',
      sr: 'localhost:25671',
      sig: '69fIW/IxcXODABUjd+MU9O0dZi2mqArSlMIXHpKINBs=',
      se: SE,
      skn: 'service',
    },
    key: PRIMARY,
  },
  {
    name: 'device token signed with the secondary key',
    token:
      'SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=ST663xALR4UwGs8kTdNG8pXsOge2RTPemupIyAQWTxw%3D&se=1767229200',
    parsed: {
      srRaw: 'localhost%2Fdevices%2Fdev1',
      sr: 'localhost/devices/dev1',
      sig: 'ST663xALR4UwGs8kTdNG8pXsOge2RTPemupIyAQWTxw=',
      se: SE,
      skn: undefined,
    },
    key: SECONDARY,
  },
];

describe('SAS golden vectors', () => {
  for (const v of VECTORS) {
    test(`${v.name}: parse`, () => {
      assert.deepEqual(parseSasToken(v.token), v.parsed);
    });
    test(`${v.name}: sign`, () => {
      assert.equal(signSas(v.parsed.srRaw, v.parsed.se, v.key), v.parsed.sig);
    });
    test(`${v.name}: create gives the same bytes`, () => {
      const created = createSasToken({
        resourceUri: v.parsed.sr,
        key: v.key,
        expiry: v.parsed.se,
        encode: v.parsed.srRaw !== v.parsed.sr,
        ...(v.parsed.skn ? { keyName: v.parsed.skn } : {}),
      });
      assert.equal(created, v.token);
    });
    test(`${v.name}: verifies with its key and not with another`, () => {
      const parsed = parseSasToken(v.token);
      assert.equal(verifySasSignature(parsed, [v.key]), true);
      assert.equal(verifySasSignature(parsed, [OTHER]), false);
      assert.equal(verifySasSignature(parsed, []), false);
      assert.equal(verifySasSignature(parsed, [null, undefined, '']), false);
    });
  }

  test('secondary key accepted after a wrong primary', () => {
    const secondaryToken = parseSasToken(VECTORS[4]!.token);
    assert.equal(verifySasSignature(secondaryToken, [PRIMARY, SECONDARY]), true);
    assert.equal(verifySasSignature(secondaryToken, [PRIMARY, null]), false);
  });

  test('the signature is over the raw sr: a re-encoded sr does not verify', () => {
    const parsed = parseSasToken(VECTORS[0]!.token);
    // Same resource, lower-case escapes (what the doc recommends): a different string to sign.
    assert.equal(verifySasSignature({ ...parsed, srRaw: 'localhost%2fdevices%2fdev1' }, [PRIMARY]), false);
    assert.equal(verifySasSignature({ ...parsed, srRaw: parsed.sr }, [PRIMARY]), false);
  });

  test('a changed expiry does not verify', () => {
    const parsed = parseSasToken(VECTORS[0]!.token);
    assert.equal(verifySasSignature({ ...parsed, se: SE + 1 }, [PRIMARY]), false);
  });
});

describe('SAS tokens made by the official azure-iot-common', () => {
  const cases = [
    { resource: azure.encodeUriComponentStrict('localhost/devices/dev1'), keyName: undefined },
    { resource: azure.encodeUriComponentStrict('localhost:18883/devices/dev2'), keyName: undefined },
    // Device ids may hold characters encodeUriComponentStrict escapes in lower-case hex.
    { resource: azure.encodeUriComponentStrict("localhost/devices/d*v(1)!'"), keyName: undefined },
    { resource: 'localhost', keyName: 'iothubowner' },
    { resource: 'localhost:25671', keyName: 'service' },
    { resource: 'myhub.azure-devices.net/devices/dev1', keyName: 'device' },
  ];
  for (const c of cases) {
    test(`${c.resource} ${c.keyName ?? '(device key)'}`, () => {
      const token = azure.SharedAccessSignature.create(c.resource, c.keyName as string, PRIMARY, SE).toString();
      const parsed = parseSasToken(token);
      assert.equal(parsed.srRaw, c.resource);
      assert.equal(parsed.sr, decodeURIComponent(c.resource));
      assert.equal(parsed.skn, c.keyName);
      assert.equal(parsed.se, SE);
      assert.equal(verifySasSignature(parsed, [PRIMARY]), true);
      assert.equal(verifySasSignature(parsed, [OTHER]), false);
      // And ours writes the same token the SDK writes.
      const ours = createSasToken({
        resourceUri: parsed.sr,
        key: PRIMARY,
        expiry: SE,
        encode: parsed.srRaw !== parsed.sr,
        ...(c.keyName ? { keyName: c.keyName } : {}),
      });
      assert.equal(ours, token);
    });
  }
});

describe('parseSasToken accepts', () => {
  test('any field order', () => {
    const t =
      'SharedAccessSignature se=1767229200&skn=iothubowner&sig=wjK%2BCMTpSBfvrKibsxN0%2BOl21U7Xduk2KYL3lb0B9pA%3D&sr=localhost';
    assert.deepEqual(parseSasToken(t), VECTORS[2]!.parsed);
    assert.equal(verifySasSignature(parseSasToken(t), [PRIMARY]), true);
  });
  test('an unencoded sig and unknown extra fields', () => {
    const t =
      'SharedAccessSignature sr=localhost&sig=wjK+CMTpSBfvrKibsxN0+Ol21U7Xduk2KYL3lb0B9pA=&skn=iothubowner&se=1767229200&x=1';
    assert.equal(verifySasSignature(parseSasToken(t), [PRIMARY]), true);
  });
  test('surrounding whitespace', () => {
    assert.deepEqual(parseSasToken(`  ${VECTORS[0]!.token}\n`), VECTORS[0]!.parsed);
  });
});

describe('parseSasToken refuses malformed tokens with IotHubUnauthorizedAccess', () => {
  const sig = 'sig=BaF%2BShma5nnU4g3JqID0oLNesSZmpGDAjWTIW5Voc7M%3D';
  const bad: Array<[string, string]> = [
    ['empty string', ''],
    ['only spaces', '   '],
    ['garbage', '\u0000\u00ff garbage'],
    ['no prefix', `sr=localhost&${sig}&se=1`],
    ['wrong prefix', `SharedAccessKey sr=localhost&${sig}&se=1`],
    ['prefix alone', 'SharedAccessSignature '],
    ['missing sr', `SharedAccessSignature ${sig}&se=1767229200`],
    ['missing sig', 'SharedAccessSignature sr=localhost&se=1767229200'],
    ['missing se', `SharedAccessSignature sr=localhost&${sig}`],
    ['empty sr', `SharedAccessSignature sr=&${sig}&se=1767229200`],
    ['empty skn', `SharedAccessSignature sr=localhost&${sig}&skn=&se=1767229200`],
    ['se not a number', `SharedAccessSignature sr=localhost&${sig}&se=soon`],
    ['se negative', `SharedAccessSignature sr=localhost&${sig}&se=-5`],
    ['se fractional', `SharedAccessSignature sr=localhost&${sig}&se=1767229200.5`],
    ['se huge', `SharedAccessSignature sr=localhost&${sig}&se=99999999999999999999`],
    ['sig not base64', 'SharedAccessSignature sr=localhost&sig=not*base64!&se=1767229200'],
    ['sig bad length', 'SharedAccessSignature sr=localhost&sig=abc&se=1767229200'],
    ['sr bad percent-encoding', `SharedAccessSignature sr=localhost%ZZ&${sig}&se=1767229200`],
    ['field without =', `SharedAccessSignature sr=localhost&${sig}&se=1767229200&junk`],
    ['duplicated sr', `SharedAccessSignature sr=localhost&sr=evil&${sig}&se=1767229200`],
  ];
  for (const [name, token] of bad) {
    test(name, () => {
      assert.throws(
        () => parseSasToken(token),
        (err) => isFerryError(err, 'IotHubUnauthorizedAccess') && err.code === 401002,
      );
    });
  }
  test('non-string input', () => {
    assert.throws(
      () => parseSasToken(undefined as unknown as string),
      (err) => isFerryError(err, 'IotHubUnauthorizedAccess'),
    );
  });
  test('the message says what is wrong', () => {
    assert.throws(() => parseSasToken(`SharedAccessSignature sr=localhost&${sig}`), /se is missing/);
  });
});

describe('createSasToken refuses bad arguments with ArgumentInvalid', () => {
  for (const [name, opts] of [
    ['empty resource', { resourceUri: '', key: PRIMARY, expiry: SE }],
    ['empty key', { resourceUri: 'localhost', key: '', expiry: SE }],
    ['fractional expiry', { resourceUri: 'localhost', key: PRIMARY, expiry: 1.5 }],
  ] as const) {
    test(name, () => {
      assert.throws(
        () => createSasToken(opts),
        (err) => isFerryError(err, 'ArgumentInvalid'),
      );
    });
  }
});

describe('isSasExpired with the 5-minute skew', () => {
  const token = parseSasToken(VECTORS[0]!.token);
  const seMs = SE * 1000;
  test('the skew is 5 minutes', () => assert.equal(SAS_CLOCK_SKEW_MS, 300_000));
  test('valid before se', () => assert.equal(isSasExpired(token, seMs - 1), false));
  test('valid at se', () => assert.equal(isSasExpired(token, seMs), false));
  test('valid 5 minutes after se', () => assert.equal(isSasExpired(token, seMs + 300_000), false));
  test('expired 5 minutes and 1 ms after se', () => assert.equal(isSasExpired(token, seMs + 300_001), true));
  test('a custom skew of 0', () => {
    assert.equal(isSasExpired(token, seMs, 0), false);
    assert.equal(isSasExpired(token, seMs + 1, 0), true);
  });
});

describe('splitResource', () => {
  const cases: Array<[string, ReturnType<typeof splitResource>]> = [
    ['localhost', { host: 'localhost', port: undefined, path: '' }],
    ['localhost/', { host: 'localhost', port: undefined, path: '' }],
    ['localhost:25671', { host: 'localhost', port: '25671', path: '' }],
    ['localhost:443/devices/dev1', { host: 'localhost', port: '443', path: '/devices/dev1' }],
    ['myhub.azure-devices.net/devices/', { host: 'myhub.azure-devices.net', port: undefined, path: '/devices' }],
    ['127.0.0.2:8883/devices/d', { host: '127.0.0.2', port: '8883', path: '/devices/d' }],
    ['[::1]:8883/devices/d', { host: '[::1]', port: '8883', path: '/devices/d' }],
  ];
  for (const [sr, want] of cases) test(sr, () => assert.deepEqual(splitResource(sr), want));
});

describe('scopeCovers matches by path segment, case-insensitively', () => {
  const cases: Array<[string, string, boolean]> = [
    ['', '/devices/dev1', true],
    ['', '', true],
    ['/', '/messages', true],
    ['/devices', '/devices/dev1', true],
    ['/devices', '/devices', true],
    ['/devices/', '/devices/dev1', true],
    ['/devices/dev1', '/devices/dev1/messages/devicebound', true],
    ['/devices/dev1', '/devices/dev1', true],
    ['/Devices/DEV1', '/devices/dev1', true],
    ['/devices/dev1', '/devices/dev10', false],
    ['/devices/dev1', '/devices', false],
    ['/devices/dev1', '', false],
    ['/a/b', '/a/b/c', true],
    ['/a/b', '/a/bc', false],
    ['/devices', '/devicesX/dev1', false],
    ['/messages', '/devices/dev1', false],
  ];
  for (const [scope, path, want] of cases) {
    test(`${JSON.stringify(scope)} covers ${JSON.stringify(path)}: ${want}`, () => {
      assert.equal(scopeCovers(scope, path), want);
    });
  }
});
