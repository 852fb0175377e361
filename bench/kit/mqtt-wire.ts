/**
 * The few MQTT 3.1.1 frames the peer bench's load side sends and receives per message, without a
 * generic codec: a CPU profile of the fleet and of the publisher put mqtt-packet's parser (an
 * object and an event per packet, a topic string per PUBLISH) and generator (a packet object and
 * several small writes per PUBLISH) at the top of the load side's own time. Here a PUBLISH is a
 * copy of a template encoded once per topic and body size, with its packet id, send time and
 * message number written in place; an incoming frame is handed over as (type byte, buffer, start,
 * end) with nothing allocated but the PUBLISH payload's view. The rare frames (CONNECT, SUBSCRIBE,
 * DISCONNECT, a one-off PUBLISH) are encoded here too, so a load process never loads mqtt-packet
 * (whose generator builds a cache of 65,536 Buffers, about 6 MiB of old heap each major GC walks).
 */

/** Frame types (the fixed header's high nibble). */
export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const SUBACK = 9;

/** A PUBACK for `id` written at `at` of `out` (4 bytes). */
export function writePuback(out: Buffer, at: number, id: number): void {
  out[at] = 0x40;
  out[at + 1] = 0x02;
  out[at + 2] = id >> 8;
  out[at + 3] = id & 0xff;
}

function remainingLength(n: number): number[] {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return bytes;
}

/**
 * A QoS 1 PUBLISH to one topic with a stamped body of `bodyBytes` (kit/traffic.ts stampedBody's
 * layout: hrtime ns of the send, message number, then 'x'), encoded once; write() copies it into
 * a buffer and fills in the packet id and the stamp. A topic may hold one run of '#' (never in a
 * topic name), a place for text of that length that changes per message (a message id).
 */
export class PublishTemplate {
  private readonly bytes: Buffer;
  /** Where the packet id starts (the body follows it). */
  private readonly idAt: number;
  /** Where the topic's '#' run starts (-1: none). */
  private readonly textAt: number;

  constructor(
    topic: string,
    readonly bodyBytes: number,
  ) {
    if (bodyBytes < 12) throw new Error('PublishTemplate: a stamped body takes 12 bytes or more');
    const name = Buffer.from(topic, 'utf8');
    const rest = 2 + name.length + 2 + bodyBytes;
    const head = [0x32, ...remainingLength(rest), name.length >> 8, name.length & 0xff];
    this.bytes = Buffer.alloc(head.length + name.length + 2 + bodyBytes, 0x78);
    Buffer.from(head).copy(this.bytes, 0);
    name.copy(this.bytes, head.length);
    this.idAt = head.length + name.length;
    const mark = name.indexOf(0x23);
    this.textAt = mark < 0 ? -1 : head.length + mark;
  }

  get length(): number {
    return this.bytes.length;
  }

  /**
   * The PUBLISH with packet `id`, stamped now with message number `n`, at `at` of `out`; `text`
   * (ASCII, as long as the topic's '#' run) in the topic's place for it.
   */
  write(out: Buffer, at: number, id: number, n: number, text?: string): void {
    this.bytes.copy(out, at);
    if (text !== undefined) out.write(text, at + this.textAt, 'latin1');
    const p = at + this.idAt;
    out[p] = id >> 8;
    out[p + 1] = id & 0xff;
    out.writeBigUInt64BE(process.hrtime.bigint(), p + 2);
    out.writeUInt32BE(n, p + 10);
  }
}

/** Called per complete frame: its first byte, and the buffer holding its variable part in [start, end). */
export type FrameHandler = (header: number, buf: Buffer, start: number, end: number) => void;

/** Cuts a byte stream into MQTT frames; a frame split across chunks waits for the rest. */
export class FrameReader {
  private rest: Buffer | undefined;

  constructor(private readonly onFrame: FrameHandler) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = undefined;
    let at = 0;
    for (;;) {
      // The remaining length: 1 to 4 bytes of 7 bits, least significant first.
      let i = at + 1;
      let length = 0;
      let scale = 1;
      let complete = false;
      while (i < buf.length) {
        const b = buf[i++]!;
        length += (b & 0x7f) * scale;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        scale *= 128;
        if (scale > 128 ** 3) throw new Error('MQTT: malformed remaining length');
      }
      if (!complete || i + length > buf.length) break;
      this.onFrame(buf[at]!, buf, i, i + length);
      at = i + length;
    }
    if (at < buf.length) this.rest = buf.subarray(at);
  }
}

/** An MQTT string (or binary field): two bytes of length, then the bytes. */
function field(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const out = Buffer.allocUnsafe(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

function frame(header: number, parts: readonly Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([header, ...remainingLength(body.length)]), body]);
}

export interface ConnectFields {
  clientId: string;
  clean: boolean;
  keepalive: number;
  username?: string;
  password?: string;
}

/** CONNECT, MQTT 3.1.1 (protocol level 4), no will. */
export function encodeConnect(c: ConnectFields): Buffer {
  let flags = c.clean ? 0x02 : 0;
  if (c.username !== undefined) flags |= 0x80;
  if (c.password !== undefined) flags |= 0x40;
  const keepalive = Buffer.from([c.keepalive >> 8, c.keepalive & 0xff]);
  return frame(0x10, [
    field('MQTT'),
    Buffer.from([4, flags]),
    keepalive,
    field(c.clientId),
    ...(c.username === undefined ? [] : [field(c.username)]),
    ...(c.password === undefined ? [] : [field(Buffer.from(c.password, 'utf8'))]),
  ]);
}

/** SUBSCRIBE to one filter at `qos`, packet `id`. */
export function encodeSubscribe(id: number, filter: string, qos: 0 | 1): Buffer {
  return frame(0x82, [Buffer.from([id >> 8, id & 0xff]), field(filter), Buffer.from([qos])]);
}

/** A QoS 1 PUBLISH of any topic and payload, packet `id` (for the odd message; the load uses PublishTemplate). */
export function encodePublish(id: number, topic: string, payload: Buffer): Buffer {
  return frame(0x32, [field(topic), Buffer.from([id >> 8, id & 0xff]), payload]);
}

export const DISCONNECT = Buffer.from([0xe0, 0x00]);
