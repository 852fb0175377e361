import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { FerryError, isFerryError } from '../src/errors.js';
import { decodePropertyBag, encodePropertyBag, type PropertyBag } from '../src/property-bag.js';

/** Each vector is checked four ways, mqtt-packet style: encode, decode, round trip, and after a leading '?'. */
const VECTORS: Array<{ name: string; bag: PropertyBag; text: string }> = [
  {
    // The topic tail the official device client was verified to parse (official-sdk-wire.md A).
    name: 'the verified C2D topic',
    bag: [
      ['$.mid', 'mid-1'],
      ['$.to', '/devices/dev1/messages/deviceBound'],
      ['$.exp', '2030-01-01T00:00:00.000Z'],
      ['$.cid', 'corr-1'],
      ['$.uid', 'user-1'],
      ['$.ct', 'application/json'],
      ['$.ce', 'utf-8'],
      ['iothub-ack', 'full'],
      ['my prop', 'a b&c=d/e'],
    ],
    text:
      '%24.mid=mid-1&%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound&%24.exp=2030-01-01T00%3A00%3A00.000Z' +
      '&%24.cid=corr-1&%24.uid=user-1&%24.ct=application%2Fjson&%24.ce=utf-8&iothub-ack=full&my%20prop=a%20b%26c%3Dd%2Fe',
  },
  { name: 'empty bag', bag: [], text: '' },
  { name: 'null value is the key alone', bag: [['flag', null]], text: 'flag' },
  { name: 'empty string value keeps the =', bag: [['empty', '']], text: 'empty=' },
  {
    name: 'null, empty and set together',
    bag: [
      ['a', null],
      ['b', ''],
      ['c', 'x'],
    ],
    text: 'a&b=&c=x',
  },
  { name: 'plus is escaped, never a space', bag: [['k+1', '1+1=2']], text: 'k%2B1=1%2B1%3D2' },
  {
    name: 'non-ASCII',
    bag: [['température', 'été ✓ 🚀']],
    text: 'temp%C3%A9rature=%C3%A9t%C3%A9%20%E2%9C%93%20%F0%9F%9A%80',
  },
  { name: 'percent itself', bag: [['100%', '%20']], text: '100%25=%2520' },
  { name: 'question mark and hash', bag: [['q?', '#x']], text: 'q%3F=%23x' },
  {
    name: 'repeated keys keep their order',
    bag: [
      ['k', '1'],
      ['k', '2'],
    ],
    text: 'k=1&k=2',
  },
];

describe('property bag vectors', () => {
  for (const v of VECTORS) {
    test(`${v.name}: encode`, () => assert.equal(encodePropertyBag(v.bag), v.text));
    test(`${v.name}: decode`, () => assert.deepEqual(decodePropertyBag(v.text), v.bag));
    test(`${v.name}: round trip`, () => assert.deepEqual(decodePropertyBag(encodePropertyBag(v.bag)), v.bag));
    test(`${v.name}: leading ?`, () => assert.deepEqual(decodePropertyBag(`?${v.text}`), v.bag));
  }

  test('an encoded bag never holds a / (the official client splits the topic on it)', () => {
    const text = encodePropertyBag([
      ['a/b', 'c/d'],
      ['$.to', '/devices/x'],
    ]);
    assert.equal(text.includes('/'), false);
    assert.equal(text.split('&').length, 2);
    for (const pair of text.split('&')) assert.equal(pair.split('=').length, 2);
  });
});

describe('property bag decoder tolerance', () => {
  test('empty pieces are skipped', () => {
    assert.deepEqual(decodePropertyBag('a=1&&b=2&'), [
      ['a', '1'],
      ['b', '2'],
    ]);
  });
  test('a raw = inside a value stays in the value', () => {
    assert.deepEqual(decodePropertyBag('a=b=c'), [['a', 'b=c']]);
  });
  test('a raw + stays a +', () => {
    assert.deepEqual(decodePropertyBag('a=1+1'), [['a', '1+1']]);
  });
  test('lower-case escapes', () => {
    assert.deepEqual(decodePropertyBag('%24.to=%2fdevices'), [['$.to', '/devices']]);
  });
  test('a lone ?', () => assert.deepEqual(decodePropertyBag('?'), []));
});

describe('property bag errors are ArgumentInvalid', () => {
  for (const text of ['a=%ZZ', '%E0%A4%A=1', 'a=%', 'k=%C3', '=value', '?=x']) {
    test(`decode ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => decodePropertyBag(text),
        (err) => isFerryError(err, 'ArgumentInvalid'),
      );
    });
  }
  test('encode an empty key', () => {
    assert.throws(
      () => encodePropertyBag([['', 'x']]),
      (err) => isFerryError(err, 'ArgumentInvalid'),
    );
  });
  test('encode a lone surrogate', () => {
    assert.throws(
      () => encodePropertyBag([['k', '\ud800']]),
      (err) => isFerryError(err, 'ArgumentInvalid'),
    );
  });
});

test('random bytes: decodePropertyBag returns pairs or throws FerryError, nothing else', () => {
  // Deterministic enough to be useful: many inputs, biased toward the bag's own alphabet.
  const alphabet = '%&=?+/ aZ09$.';
  for (let i = 0; i < 5000; i++) {
    const raw = randomBytes(1 + (i % 40));
    const text = i % 2 === 0 ? raw.toString('latin1') : Array.from(raw, (b) => alphabet[b % alphabet.length]).join('');
    try {
      const out = decodePropertyBag(text);
      for (const [k, v] of out) {
        assert.equal(typeof k, 'string');
        assert.ok(v === null || typeof v === 'string');
      }
    } catch (err) {
      assert.ok(err instanceof FerryError, `input ${JSON.stringify(text)} threw ${String(err)}`);
      assert.equal(err.errorName, 'ArgumentInvalid');
    }
  }
});

test('random bags round trip', () => {
  for (let i = 0; i < 500; i++) {
    const bag: Array<[string, string | null]> = [];
    for (let j = 0; j < 1 + (i % 5); j++) {
      const key = `k${randomBytes(4)
        .toString('latin1')
        .replace(/[\ud800-\udfff]/g, '')}`;
      const value = j % 3 === 0 ? null : randomBytes(i % 8).toString('latin1');
      bag.push([key, value]);
    }
    assert.deepEqual(decodePropertyBag(encodePropertyBag(bag)), bag);
  }
});
