/**
 * Mutations of recorded sessions: whole frames dropped, duplicated, repeated, swapped, spliced in
 * from another session or torn; bytes flipped, set to boundary values, inserted and deleted; length
 * fields lied about (and, half the time, set right again after the body changed, so the mutated
 * body reaches the decoder); protocol tokens from a small dictionary (AMQP compound constructors
 * with counts the bytes cannot hold, MQTT over-long lengths, HTTP framing headers); and for the
 * WebSocket variants the same on the inner stream plus broken WebSocket framing. A few inputs are
 * plain random bytes.
 */
import type { Session } from './capture.js';
import { fixAmqp, fixMqtt, wsFrame } from './frames.js';
import type { Rng } from './rng.js';

const U32 = [0, 1, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

/** AMQP values a decoder must refuse or bound: counts and sizes larger than the bytes present. */
const AMQP_TOKENS = [
  hex('f0 00000005 7fffffff 40'), // array32 of 2^31 nulls (zero-width elements)
  hex('e0 02 ff 40'), // array8 of 255 nulls
  hex('f0 00000005 7fffffff 41'), // array32 of booleans true (zero-width)
  hex('f0 00000005 7fffffff f0'), // array32 of arrays
  hex('e0 05 7f 00 53 10 45'), // array8 of described empty lists
  hex('d0 00000004 7fffffff'), // list32, huge count, no bytes
  hex('c0 01 ff'), // list8, count 255 in 1 byte
  hex('d1 00000004 00000003'), // map32 with an odd count
  hex('c1 ff ff'), // map8, count 255
  hex('b0 7fffffff'), // binary32 longer than the frame
  hex('b1 ffffffff'), // str32
  hex('b3 7fffffff'), // sym32
  hex('45'), // empty list
  Buffer.alloc(512, 0), // descriptors nested 512 deep
  Buffer.concat(Array.from({ length: 400 }, () => hex('c0 ff 01'))), // lists nested 400 deep
];
const MQTT_TOKENS = [hex('ff ff ff ff 7f'), hex('ff ff ff 7f'), hex('ffff'), hex('0000'), Buffer.from('#/+/#\u0000')];
const HTTP_TOKENS = [
  Buffer.from('Content-Length: 99999999999\r\n'),
  Buffer.from('Content-Length: -1\r\n'),
  Buffer.from('Transfer-Encoding: chunked\r\n'),
  Buffer.from('\r\nffffffffffffffff\r\n'),
  Buffer.from(`X-Long: ${'a'.repeat(70_000)}\r\n`),
  Buffer.from('Expect: 100-continue\r\n'),
  Buffer.from('Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n'),
  Buffer.from('\r\n\r\n'),
  Buffer.from('%00%ff/../..'),
];

function tokens(s: Session): Buffer[] {
  if (s.protocol === 'http') return HTTP_TOKENS;
  return s.protocol.endsWith('amqp') ? AMQP_TOKENS : MQTT_TOKENS;
}

function inner(s: Session): 'mqtt' | 'amqp' | 'http' {
  return s.protocol === 'http' ? 'http' : s.protocol.endsWith('amqp') ? 'amqp' : 'mqtt';
}

/** Sets right the frame's length field, for MQTT and AMQP frames. */
function fix(s: Session, frame: Buffer): Buffer {
  const kind = inner(s);
  return kind === 'mqtt' ? fixMqtt(frame) : kind === 'amqp' ? fixAmqp(frame) : frame;
}

/** One byte-level change to a frame. */
function mutateBytes(s: Session, f: Buffer, rng: Rng): Buffer {
  const at = f.length === 0 ? 0 : rng.int(f.length);
  const b = Buffer.from(f);
  switch (rng.int(8)) {
    case 0:
      if (b.length) b[at]! ^= 1 << rng.int(8);
      return b;
    case 1:
      if (b.length) b[at] = rng.pick([0, 0x7f, 0x80, 0xff, rng.int(256)]);
      return b;
    case 2: {
      if (b.length < 4) return b;
      const v = rng.pick(U32);
      const i = rng.int(b.length - 3);
      if (rng.chance(0.5)) b.writeUInt32BE(v >>> 0, i);
      else b.writeUInt16BE(v & 0xffff, i);
      return b;
    }
    case 3:
      return Buffer.concat([b.subarray(0, at), rng.bytes(rng.between(1, 16)), b.subarray(at)]);
    case 4:
      return Buffer.concat([b.subarray(0, at), b.subarray(at + rng.between(1, 16))]);
    case 5: {
      const slice = b.subarray(at, at + rng.between(1, 32));
      return Buffer.concat([
        b.subarray(0, at),
        ...Array.from({ length: rng.between(2, 64) }, () => slice),
        b.subarray(at),
      ]);
    }
    case 6:
      return Buffer.concat([b.subarray(0, at), rng.pick(tokens(s)), b.subarray(at)]);
    default:
      return structural(s, b, rng);
  }
}

/** Protocol-aware: an AMQP performative's fields replaced by a hostile value; an MQTT length lie. */
function structural(s: Session, b: Buffer, rng: Rng): Buffer {
  const kind = inner(s);
  if (kind === 'amqp') {
    const descriptors: number[] = [];
    for (let i = 8; i + 2 < b.length; i++) if (b[i] === 0x00 && b[i + 1] === 0x53) descriptors.push(i + 3);
    if (descriptors.length === 0) return b;
    const at = rng.pick(descriptors);
    return Buffer.concat([
      b.subarray(0, at),
      rng.pick(AMQP_TOKENS),
      rng.chance(0.5) ? Buffer.alloc(0) : b.subarray(at),
    ]);
  }
  if (kind === 'mqtt') {
    const lie = rng.pick(MQTT_TOKENS.slice(0, 2).concat([hex('00'), hex('7f'), hex('80 01')]));
    let j = 1;
    while (j < b.length && j < 5 && (b[j]! & 0x80) !== 0) j++;
    return Buffer.concat([b.subarray(0, 1), lie, b.subarray(j + 1)]);
  }
  const text = b.toString('latin1');
  const line = text.indexOf('\r\n');
  return line < 0 ? b : Buffer.concat([b.subarray(0, line + 2), rng.pick(HTTP_TOKENS), b.subarray(line + 2)]);
}

function mutateFrames(s: Session, pool: readonly Session[], rng: Rng): Buffer[] {
  const frames = [...s.frames];
  const n = rng.between(1, 4);
  for (let k = 0; k < n && frames.length > 0; k++) {
    const i = rng.int(frames.length);
    switch (rng.int(7)) {
      case 0:
        frames.splice(i, 1);
        break;
      case 1:
        frames.splice(i, 0, frames[i]!);
        break;
      case 2:
        frames.splice(i, 0, ...Array.from({ length: rng.between(2, 200) }, () => frames[i]!));
        break;
      case 3: {
        const j = rng.int(frames.length);
        [frames[i], frames[j]] = [frames[j]!, frames[i]!];
        break;
      }
      case 4: {
        const other = rng.pick(pool.filter((p) => p.protocol === s.protocol));
        if (other.frames.length) frames.splice(i, 0, rng.pick(other.frames));
        break;
      }
      default: {
        const changed = mutateBytes(s, frames[i]!, rng);
        frames[i] = rng.chance(0.5) ? fix(s, changed) : changed;
      }
    }
  }
  return frames;
}

/** WebSocket framing of the (mutated) inner frames, now and then broken itself. */
function wrapWs(s: Session, frames: Buffer[], rng: Rng): Buffer {
  const upgrade = rng.chance(0.05) ? mutateBytes({ ...s, protocol: 'http' }, s.upgrade!, rng) : s.upgrade!;
  const out = [upgrade];
  for (const f of frames) {
    const mask = rng.bytes(4);
    if (!rng.chance(0.15)) {
      out.push(wsFrame(f, mask));
      continue;
    }
    switch (rng.int(5)) {
      case 0: // reserved, text, close, ping or continuation opcode
        out.push(wsFrame(f, mask, rng.pick([0, 1, 3, 7, 8, 9, 0xa, 0xb, 0xf])));
        break;
      case 1: {
        // RSV bits set
        const w = wsFrame(f, mask);
        w[0]! |= 0x70;
        out.push(w);
        break;
      }
      case 2: // unmasked, which a server must refuse
        out.push(Buffer.concat([Buffer.from([0x82, 126, 0, 0]), f.subarray(0, 0xffff)]));
        out.at(-1)!.writeUInt16BE(Math.min(f.length, 0xffff), 2);
        break;
      case 3: // fragmented: no FIN, then a continuation
        out.push(wsFrame(f.subarray(0, f.length >> 1), mask, 2, false), wsFrame(f.subarray(f.length >> 1), mask, 0));
        break;
      default: // a 64-bit length far past the payload
        out.push(Buffer.concat([hex('82 ff'), hex('7fffffffffffffff'), mask, f]));
    }
  }
  return Buffer.concat(out);
}

/** The bytes of one fuzz input derived from `s`. */
export function mutate(s: Session, pool: readonly Session[], rng: Rng): Buffer {
  if (rng.chance(0.03)) {
    const noise = rng.bytes(rng.between(1, 512));
    return s.upgrade ? Buffer.concat([s.upgrade, noise]) : noise;
  }
  const frames = mutateFrames(s, pool, rng);
  let bytes = s.upgrade ? wrapWs(s, frames, rng) : Buffer.concat(frames);
  if (rng.chance(0.1)) bytes = bytes.subarray(0, rng.int(bytes.length + 1));
  return bytes;
}
