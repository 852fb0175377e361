/** The browser's SAS tokens (WebCrypto) against @ferry/common's (node:crypto): the same bytes for the same inputs. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSasToken as nodeToken, parseSasToken, verifySasSignature } from '@ferry/common';
import { createSasToken, encodeStrict, newKey, parsePolicyConnectionString } from '../src/sas.js';

const KEYS = [Buffer.alloc(32, 1).toString('base64'), Buffer.from('a short key').toString('base64'), newKey()];
const CASES = [
  { resourceUri: 'localhost', keyName: 'iothubowner', encode: false },
  { resourceUri: '127.0.0.2', keyName: 'service', encode: false },
  { resourceUri: 'hub.example.com/devices/dev 1', encode: true },
  { resourceUri: "host/devices/it's(a)*device!", encode: true },
  { resourceUri: 'host', keyName: 'name with spaces & symbols!', encode: false },
  { resourceUri: 'hub.example.com/devices/ünï', keyName: 'device', encode: true },
];

describe('browser SAS tokens', () => {
  test('equal @ferry/common tokens for the same resource, key, key name and expiry', async () => {
    for (const key of KEYS) {
      for (const c of CASES) {
        for (const expiry of [1, 1_767_225_600, 4_102_444_800]) {
          const opts = { ...c, key, expiry };
          assert.equal(await createSasToken(opts), nodeToken(opts), JSON.stringify(opts));
        }
      }
    }
  });

  test('a browser token verifies with the key and fails with another', async () => {
    const token = await createSasToken({ resourceUri: 'localhost', key: KEYS[0]!, keyName: 'service', expiry: 99 });
    const parsed = parseSasToken(token);
    assert.equal(parsed.skn, 'service');
    assert.equal(verifySasSignature(parsed, [KEYS[0]]), true);
    assert.equal(verifySasSignature(parsed, [KEYS[1]]), false);
  });

  test("encodeStrict is the official SDK's encoding", () => {
    assert.equal(encodeStrict("a b!'()*/é"), 'a%20b%21%27%28%29%2a%2F%C3%A9');
  });

  test('newKey is 32 random bytes in base64', () => {
    const a = newKey();
    assert.equal(Buffer.from(a, 'base64').length, 32);
    assert.notEqual(a, newKey());
  });
});

describe('policy connection strings', () => {
  test('parsed in any order and case; a device string or a missing field is refused by name', () => {
    assert.deepEqual(parsePolicyConnectionString(' sharedaccesskey=k=;HostName=h;SharedAccessKeyName=service; '), {
      hostName: 'h',
      keyName: 'service',
      key: 'k=',
    });
    assert.throws(() => parsePolicyConnectionString('HostName=h;DeviceId=d;SharedAccessKey=k'), /device connection/);
    assert.throws(() => parsePolicyConnectionString('HostName=h;SharedAccessKey=k'), /SharedAccessKeyName is missing/);
    assert.throws(() => parsePolicyConnectionString('HostName=h;SharedAccessKeyName=s'), /SharedAccessKey is missing/);
    assert.throws(() => parsePolicyConnectionString('nonsense'), /not a Name=value field/);
  });
});
