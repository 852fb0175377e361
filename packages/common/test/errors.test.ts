import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ERRORS, type ErrorName, FerryError, isFerryError, toFerryError } from '../src/errors.js';

describe('the error table', () => {
  for (const [name, row] of Object.entries(ERRORS)) {
    test(`${name}: six-digit code whose first three digits are the HTTP status`, () => {
      assert.match(String(row.code), /^\d{6}$/);
      assert.equal(Math.floor(row.code / 1000), row.httpStatus);
      assert.ok(row.amqpCondition.length > 0);
      assert.ok(row.description.length > 0);
    });
  }

  test('codes are unique', () => {
    const codes = Object.values(ERRORS).map((r) => r.code);
    assert.equal(new Set(codes).size, codes.length);
  });

  test('CONNACK codes are MQTT 3.1.1 refusal codes (1-5)', () => {
    for (const row of Object.values(ERRORS)) {
      if ('connack' in row) assert.ok(row.connack >= 1 && row.connack <= 5);
    }
  });
});

describe('FerryError', () => {
  test('carries the row of its name', () => {
    const err = new FerryError('DeviceMessageLockLost');
    assert.equal(err.code, 412002);
    assert.equal(err.httpStatus, 412);
    assert.equal(err.errorName, 'DeviceMessageLockLost');
    assert.equal(err.message, ERRORS.DeviceMessageLockLost.description);
    assert.ok(isFerryError(err, 'DeviceMessageLockLost'));
    assert.equal(isFerryError(err, 'DeviceNotFound' as ErrorName), false);
  });

  test('toFerryError keeps FerryErrors and wraps the rest as ServerError with the cause', () => {
    const own = new FerryError('DeviceNotFound');
    assert.equal(toFerryError(own), own);
    const cause = new Error('boom');
    const wrapped = toFerryError(cause);
    assert.equal(wrapped.errorName, 'ServerError');
    assert.equal(wrapped.cause, cause);
  });
});
