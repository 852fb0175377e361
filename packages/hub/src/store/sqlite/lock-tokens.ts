/**
 * The SQLite store's lock tokens: a random UUID whose last 12 hex digits are the row id (74 random
 * bits are left). Its 15th character (the UUID version digit) is '0' when completing the message
 * leaves no feedback record, so a complete needs no read of the row; any other value (tokens
 * minted before this, '4') reads it. So settling finds the row by primary key.
 *
 * Minted once per delivered message: the 36 characters are written into one scratch buffer and
 * read out as one string, from random bytes drawn in blocks (as crypto.randomUUID draws them),
 * instead of a UUID string, two slices, a padded hex id and their concatenation.
 */
import { randomFillSync } from 'node:crypto';
import type { Ack } from '@ferry/common';
import { wantsFeedback } from '../feedback-rules.js';

/** Random bytes per token: 18 hex digits and the 2 random bits of the UUID variant digit. */
const RANDOM_BYTES = 10;
/** Tokens drawn from one fill of the pool. */
const POOL_TOKENS = 256;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** The largest row id 12 hex digits hold. */
const MAX_ID = 2 ** 48 - 1;

const pool = Buffer.allocUnsafeSlow(RANDOM_BYTES * POOL_TOKENS);
let poolAt = pool.length;
const scratch = Buffer.allocUnsafeSlow(36);
scratch[8] = scratch[13] = scratch[18] = scratch[23] = 0x2d; // '-'

/** A lock token for the row `id`; quiet (version digit '0') when completing it asks for no feedback. */
export function mintLockToken(id: number, ack: Ack | '' | undefined): string {
  const quiet = ack === undefined || ack === '' || !wantsFeedback(ack, 'Success');
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += RANDOM_BYTES;
  // xxxxxxxx-xxxx-Vxxx-Yxxx-: 18 random hex digits, V the version digit, Y the variant (8, 9, a, b).
  hexByte(pool[at]!, 0);
  hexByte(pool[at + 1]!, 2);
  hexByte(pool[at + 2]!, 4);
  hexByte(pool[at + 3]!, 6);
  hexByte(pool[at + 4]!, 9);
  hexByte(pool[at + 5]!, 11);
  scratch[14] = quiet ? 0x30 : 0x34; // '0' or '4'
  scratch[15] = HEX[pool[at + 6]! & 0x0f]!;
  hexByte(pool[at + 7]!, 16);
  scratch[19] = HEX[0x8 | (pool[at + 9]! & 0x03)]!;
  scratch[20] = HEX[pool[at + 6]! >> 4]!;
  hexByte(pool[at + 8]!, 21);
  if (id > MAX_ID) {
    // Beyond 12 digits (never, in practice): as long as the id needs, which lockTokenRowId refuses.
    return scratch.toString('latin1', 0, 24) + id.toString(16);
  }
  for (let i = 35, rest = id; i >= 24; i--, rest = Math.floor(rest / 16)) scratch[i] = HEX[rest % 16]!;
  return scratch.toString('latin1', 0, 36);
}

function hexByte(byte: number, at: number): void {
  scratch[at] = HEX[byte >> 4]!;
  scratch[at + 1] = HEX[byte & 0x0f]!;
}

/** Whether completing the message of this (well-formed) token leaves no feedback record. */
export function completesQuietly(token: string): boolean {
  return token.charCodeAt(14) === 0x30; // '0'
}

/** The row id a lock token carries in its last 12 hex digits; undefined when it cannot be one of ours. */
export function lockTokenRowId(token: string): number | undefined {
  if (typeof token !== 'string' || token.length !== 36) return undefined;
  let id = 0;
  for (let i = 24; i < 36; i++) {
    const digit = hexDigit(token.charCodeAt(i));
    if (digit < 0) return undefined;
    id = id * 16 + digit;
  }
  return id > 0 ? id : undefined;
}

/** A hex digit's value (either case), -1 for any other character. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}
