/**
 * Frame boundaries of the recorded protocols, so mutations can drop, duplicate and splice whole
 * frames and rewrite length fields: MQTT packets (fixed header + remaining length), AMQP protocol
 * headers and frames (4-byte size), an HTTP request's head and body, and client WebSocket frames
 * (masked; their payloads are unmasked into the inner protocol's stream).
 */
import type { FuzzProtocol, Session } from './capture.js';

/** MQTT packets: type byte, variable-length remaining length, body. A torn tail is one more frame. */
export function splitMqtt(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    let len = 0;
    let mul = 1;
    let j = i + 1;
    for (; j < b.length && j < i + 5; j++) {
      len += (b[j]! & 0x7f) * mul;
      mul *= 128;
      if ((b[j]! & 0x80) === 0) break;
    }
    const end = Math.min(b.length, j + 1 + len);
    out.push(b.subarray(i, end));
    i = end;
  }
  return out;
}

/** AMQP: 8-byte protocol headers ("AMQP" + id + version) and frames led by their 4-byte size. */
export function splitAmqp(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    if (b.subarray(i, i + 4).toString('latin1') === 'AMQP') {
      out.push(b.subarray(i, i + 8));
      i += 8;
      continue;
    }
    const size = i + 4 <= b.length ? b.readUInt32BE(i) : b.length - i;
    const end = Math.min(b.length, i + Math.max(size, 8));
    out.push(b.subarray(i, end));
    i = end;
  }
  return out;
}

function headEnd(b: Buffer): number {
  const i = b.indexOf('\r\n\r\n');
  return i < 0 ? b.length : i + 4;
}

/** Client WebSocket frames' payloads, unmasked and concatenated. */
export function unwrapWs(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 2 <= b.length) {
    const masked = (b[i + 1]! & 0x80) !== 0;
    let len = b[i + 1]! & 0x7f;
    let p = i + 2;
    if (len === 126) {
      len = b.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = Number(b.readBigUInt64BE(p));
      p += 8;
    }
    const mask = masked ? b.subarray(p, p + 4) : undefined;
    if (masked) p += 4;
    const payload = Buffer.from(b.subarray(p, p + len));
    if (mask) for (let k = 0; k < payload.length; k++) payload[k]! ^= mask[k % 4]!;
    if ((b[i]! & 0x0f) === 2 || (b[i]! & 0x0f) === 0) out.push(payload);
    i = p + len;
  }
  return Buffer.concat(out);
}

/** One client WebSocket frame: FIN + `opcode`, masked with `mask`. */
export function wsFrame(payload: Buffer, mask: Buffer, opcode = 2, fin = true): Buffer {
  const n = payload.length;
  const head =
    n < 126
      ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | n])
      : n < 65536
        ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, n >> 8, n & 0xff])
        : Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 127]), u64(n)]);
  const body = Buffer.from(payload);
  for (let k = 0; k < body.length; k++) body[k]! ^= mask[k % 4]!;
  return Buffer.concat([head, mask, body]);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Classifies one recorded client stream and splits it; undefined for anything else. */
export function splitSession(b: Buffer): Session | undefined {
  if (b.length === 0) return undefined;
  if (b.subarray(0, 4).toString('latin1') === 'AMQP') return { protocol: 'amqp', frames: splitAmqp(b) };
  if (b[0] === 0x10) return { protocol: 'mqtt', frames: splitMqtt(b) };
  const end = headEnd(b);
  const head = b.subarray(0, end).toString('latin1');
  if (/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(head)) {
    const sub = /^sec-websocket-protocol:\s*(\S+)/im.exec(head)?.[1]?.toLowerCase();
    if (/^upgrade:\s*websocket/im.test(head) && (sub === 'mqtt' || sub === 'amqpwsb10')) {
      const protocol: FuzzProtocol = sub === 'mqtt' ? 'ws-mqtt' : 'ws-amqp';
      const inner = unwrapWs(b.subarray(end));
      return {
        protocol,
        upgrade: b.subarray(0, end),
        frames: protocol === 'ws-mqtt' ? splitMqtt(inner) : splitAmqp(inner),
      };
    }
    // Requests on one keep-alive socket stay together: heads and bodies as frames.
    const frames: Buffer[] = [];
    let rest = b;
    while (rest.length > 0) {
      const e = headEnd(rest);
      frames.push(rest.subarray(0, e));
      const cl = Number(/^content-length:\s*(\d+)/im.exec(rest.subarray(0, e).toString('latin1'))?.[1] ?? 0);
      if (cl > 0) frames.push(rest.subarray(e, e + cl));
      rest = rest.subarray(e + cl);
    }
    return { protocol: 'http', frames };
  }
  return undefined;
}

/** MQTT remaining-length encoding of `n` (up to 4 bytes). */
export function mqttLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0 && out.length < 4);
  return Buffer.from(out);
}

/** Rewrites an MQTT packet's remaining length to match its body (after the body was mutated). */
export function fixMqtt(frame: Buffer): Buffer {
  if (frame.length < 2) return frame;
  let j = 1;
  while (j < frame.length && j < 5 && (frame[j]! & 0x80) !== 0) j++;
  const body = frame.subarray(j + 1);
  return Buffer.concat([frame.subarray(0, 1), mqttLength(body.length), body]);
}

/** Rewrites an AMQP frame's size to match its bytes. */
export function fixAmqp(frame: Buffer): Buffer {
  if (frame.length < 8 || frame.subarray(0, 4).toString('latin1') === 'AMQP') return frame;
  const out = Buffer.from(frame);
  out.writeUInt32BE(out.length, 0);
  return out;
}
