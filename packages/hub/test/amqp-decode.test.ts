/**
 * Regression (issue 7): one 32-byte unauthenticated input (AMQP header, then a frame whose
 * performative is an array32 of 0x7fffffff `null`s) made rhea loop without consuming input until
 * the process died. Malformed encodings now fail fast with AmqpDecodeError, and the connection
 * that sent them is closed with amqp:decode-error while the hub keeps serving.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import rhea from 'rhea';
import { FrameGuard } from '../src/gateways/amqp/frame-guard.js';
import { AmqpDecodeError, installRheaPatches, MAX_DECODE_DEPTH } from '../src/gateways/amqp/rhea-patches.js';
import { closeError } from './amqp-frames.js';
import { type AmqpHarness, startAmqpHarness } from './amqp-harness.js';

export const KILLER_FRAME = Buffer.from('414d5150000100000000001802000000005310c01001f0000000057fffffff40', 'hex');

const require = createRequire(import.meta.url);
const types = require('rhea/lib/types.js') as { Reader: new (b: Buffer) => { read(): unknown } };

function decode(hex: string): unknown {
  return new types.Reader(Buffer.from(hex.replace(/\s/g, ''), 'hex')).read();
}

describe('rhea decoder guard', () => {
  before(() => installRheaPatches());

  test('an array of 0x7fffffff zero-width elements is refused at once', () => {
    for (const zeroWidth of ['40', '41', '42', '43', '44', '45']) {
      assert.throws(() => decode(`f0 00000005 7fffffff ${zeroWidth}`), AmqpDecodeError);
    }
    // A few are fine: each is charged one byte of the buffer.
    assert.deepEqual((decode('e0 02 03 40 00 00 00') as { value: unknown[] }).value.length, 3);
  });

  test('counts larger than the bytes present are refused (list, map, array)', () => {
    assert.throws(() => decode('c0 03 7f 40 40'), AmqpDecodeError); // list8: 127 items in 2 bytes
    assert.throws(() => decode('d0 00000008 00ffffff 40404040'), AmqpDecodeError); // list32
    assert.throws(() => decode('c1 03 40 40 40'), AmqpDecodeError); // map8: 64 entries
    assert.throws(() => decode('e0 03 7f 71 00'), AmqpDecodeError); // array8 of 127 ints in 1 byte
    assert.throws(() => decode('d0 7fffffff 00000001 40'), AmqpDecodeError); // size beyond the buffer
  });

  test('nesting is bounded; truncated input throws AmqpDecodeError, not a RangeError', () => {
    const deep = `${'c0 ff 01 '.repeat(MAX_DECODE_DEPTH + 1)}40`;
    assert.throws(() => decode(deep), AmqpDecodeError);
    assert.throws(() => rhea.message.decode(Buffer.from('0053770000', 'hex')), AmqpDecodeError);
  });

  test('well-formed messages still decode', () => {
    const msg = {
      message_id: 'm1',
      to: '/devices/d/messages/devicebound',
      application_properties: { a: 1, b: 'x', c: [1, 2, 3] },
      body: rhea.message.data_section(Buffer.from('hello')),
    };
    const back = rhea.message.decode(rhea.message.encode(msg as never)) as unknown as {
      message_id: string;
      application_properties: object;
    };
    assert.equal(back.message_id, 'm1');
    assert.deepEqual(back.application_properties, { a: 1, b: 'x', c: [1, 2, 3] });
  });

  test('frame guard: sizes below the frame header or above max-frame-size are refused, split anywhere', () => {
    const header = Buffer.from('AMQP\x03\x01\x00\x00', 'latin1');
    const ok = Buffer.from('0000000802000000', 'hex');
    const big = Buffer.from('0000100102000000', 'hex');
    const stream = Buffer.concat([header, ok, Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), ok, big]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const g = new FrameGuard(4096);
      const first = g.check(stream.subarray(0, cut));
      const second = first ?? g.check(stream.subarray(cut));
      const refused = first ?? second;
      assert.match(String(refused?.reason), /exceeds max-frame-size 4096/);
      // Where the refused frame (at byte 32 of the stream) starts in the chunk that completed its size.
      assert.equal(refused?.offset, Math.max(0, 32 - (first ? 0 : cut)));
    }
    const tiny = new FrameGuard(4096).check(Buffer.concat([header, Buffer.from('00000004', 'hex')]));
    assert.match(String(tiny?.reason), /below/);
    assert.equal(new FrameGuard(4096).check(Buffer.concat([header, ok, ok])), undefined);
  });
});

describe('AMQP connection fed malformed input', () => {
  let h: AmqpHarness;
  before(async () => {
    h = await startAmqpHarness();
  });
  after(() => h.close());

  async function send(bytes: Buffer): Promise<Buffer> {
    const s: Socket = connect(h.port, '127.0.0.1');
    s.on('error', () => {});
    await once(s, 'connect');
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    const closed = once(s, 'close');
    s.write(bytes);
    await closed;
    return Buffer.concat(chunks);
  }

  async function stillServing(): Promise<void> {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    await c.close();
  }

  test('the 32-byte killer frame closes that connection with amqp:decode-error', async () => {
    const answer = await send(KILLER_FRAME);
    assert.equal(closeError(answer)?.condition, 'amqp:decode-error');
    await stillServing();
  });

  test('a frame beyond max-frame-size is refused before it is buffered (amqp:connection:framing-error)', async () => {
    const huge = Buffer.from('7fffffff02000000', 'hex');
    const answer = await send(Buffer.concat([KILLER_FRAME.subarray(0, 8), huge]));
    assert.equal(closeError(answer)?.condition, 'amqp:connection:framing-error');
    await stillServing();
  });
});
