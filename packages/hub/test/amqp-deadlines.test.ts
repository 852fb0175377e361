/**
 * AMQP deadlines (issue 7), over real TCP sockets on the gateway's manual clock: a connection that
 * sends no header within connections.firstPacketTimeoutMs is dropped, and one whose peer stops
 * reading is closed after connections.writeStallTimeoutMs with its leased messages released.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import { startAmqpHarness } from './amqp-harness.js';

const { firstPacketTimeoutMs, writeStallTimeoutMs } = DEFAULT_CONFIG.connections;

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}

test('a connection that sends no AMQP header is dropped after firstPacketTimeoutMs', async () => {
  const h = await startAmqpHarness();
  try {
    const s = connect(h.port, '127.0.0.1');
    s.on('error', () => {});
    await once(s, 'connect');
    const closed = once(s, 'close');
    await until(() => h.gateway.connectionCount === 1, 'connection accepted');
    h.clock.advance(firstPacketTimeoutMs - 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(s.destroyed, false);
    h.clock.advance(1);
    await closed;
    await until(() => h.gateway.connectionCount === 0, 'connection forgotten');
  } finally {
    await h.close();
  }
});

test('a device that stops reading is closed after writeStallTimeoutMs and its messages go back', async () => {
  const SIZE = 1024 * 1024;
  const COUNT = 12;
  const h = await startAmqpHarness({ c2d: { maxMessageSize: SIZE + 1024 } });
  try {
    await h.createDevice('slow');
    const body = Buffer.alloc(SIZE, 7);
    await h.engine.sendMany(Array.from({ length: COUNT }, () => ({ deviceId: 'slow', message: { body } })));
    const c = await h.connect();
    assert.equal((await c.putToken(await h.deviceToken('slow'))).status, 200);
    const clientSocket = (c.conn as unknown as { socket: Socket }).socket;
    const r = await c.attachReceiver('/devices/slow/messages/devicebound', { credit_window: 100 });
    assert.equal(r.error, undefined);
    clientSocket.pause(); // the device stops reading
    // 12 MB do not fit in the loopback buffers: the hub's side of the socket fills up.
    await until(() => [...h.sockets].some((s) => s.writableNeedDrain), 'the hub cannot write more');
    assert.deepEqual(await h.engine.receive('slow', COUNT), [], 'every message is leased to the stalled link');
    h.clock.advance(writeStallTimeoutMs);
    await until(() => h.gateway.connectionCount === 0, 'the stalled connection is closed');
    await until(async () => (await h.engine.receive('slow', COUNT)).length === COUNT, 'leases released');
    c.destroy();
  } finally {
    await h.close();
  }
});
