/** The SQLite store's lock tokens: UUID-shaped, quiet digit, row id in the last 12 hex digits. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { completesQuietly, lockTokenRowId, mintLockToken } from '../src/store/sqlite/lock-tokens.js';

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[04][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('lock tokens', () => {
  test('are UUID-shaped, version digit 0 when completing asks for no feedback, 4 otherwise', () => {
    for (const [ack, quiet] of [
      [undefined, true],
      ['', true],
      ['none', true],
      ['negative', true],
      ['positive', false],
      ['full', false],
    ] as const) {
      const token = mintLockToken(42, ack);
      assert.match(token, UUID_SHAPE);
      assert.equal(token[14], quiet ? '0' : '4', `ack ${ack}`);
      assert.equal(completesQuietly(token), quiet);
    }
  });

  test('carry their row id, up to 12 hex digits', () => {
    for (const id of [1, 15, 16, 255, 4096, 123_456_789, 2 ** 32 + 7, 2 ** 48 - 1]) {
      const token = mintLockToken(id, undefined);
      assert.equal(token.slice(24), id.toString(16).padStart(12, '0'));
      assert.equal(lockTokenRowId(token), id);
    }
  });

  test('are unique and use every random digit and variant (across pool refills)', () => {
    const seen = new Set<string>();
    const digits = new Set<string>();
    const variants = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const token = mintLockToken(1, undefined);
      seen.add(token.slice(0, 24));
      variants.add(token[19]!);
      for (const at of [0, 7, 9, 15, 17, 20, 22]) digits.add(token[at]!);
    }
    assert.equal(seen.size, 2000);
    assert.deepEqual([...variants].sort(), ['8', '9', 'a', 'b']);
    assert.equal(digits.size, 16);
  });

  test('a row id is read only from 36 characters ending in 12 hex digits', () => {
    const ok = '0e0b7f64-1c2d-0abc-8def-00000000002A';
    assert.equal(lockTokenRowId(ok), 42);
    assert.equal(lockTokenRowId(ok.toLowerCase()), 42);
    assert.equal(lockTokenRowId('0e0b7f64-1c2d-0abc-8def-000000000000'), undefined);
    assert.equal(lockTokenRowId('0e0b7f64-1c2d-0abc-8def-00000000002g'), undefined);
    assert.equal(lockTokenRowId('0e0b7f64-1c2d-0abc-8def-0000000002a'), undefined);
    assert.equal(lockTokenRowId(42 as unknown as string), undefined);
  });
});
