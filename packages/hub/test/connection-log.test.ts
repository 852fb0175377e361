/** A connection's log lines carry its fields as a pino child's would, without being one. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ConnectionLog } from '../src/gateways/connection-log.js';

function capture(level: 'debug' | 'info'): { lines: Array<Record<string, unknown>>; log: ConnectionLog } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const base = pino({ level, base: { name: 'ferry-hub' } }, sink);
  return { lines, log: new ConnectionLog(base, 'mqtt', '10.0.0.7', 'tls') };
}

describe('ConnectionLog', () => {
  test("each line has the connection's fields first, then the device once known, then its own", async () => {
    const { lines, log } = capture('info');
    log.info({ qos: 1 }, 'before CONNECT');
    log.deviceId = 'dev1';
    log.warn({ err: new Error('boom') }, 'after CONNECT');
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 2);
    const [first, second] = lines;
    assert.deepEqual(
      Object.keys(first!).filter((k) => !['level', 'time', 'name'].includes(k)),
      ['gateway', 'remoteAddress', 'transport', 'qos', 'msg'],
    );
    assert.equal(first!.remoteAddress, '10.0.0.7');
    assert.equal(second!.deviceId, 'dev1');
    assert.equal(second!.level, 40);
    // The error goes through pino's serializer, as it would through a child.
    assert.equal((second!.err as { message: string }).message, 'boom');
  });

  test('a line below the level is not written', async () => {
    const { lines, log } = capture('info');
    log.debug({ x: 1 }, 'quiet');
    log.error({ x: 2 }, 'loud');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['loud'],
    );
  });
});
