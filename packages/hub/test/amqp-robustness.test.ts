/** Bad input, caps and shutdown: each refused cleanly while the hub keeps serving. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import rhea from 'rhea';
import { type AmqpHarness, c2d, eventually, Inbox, startAmqpHarness } from './amqp-harness.js';

const rheaFrames = createRequire(import.meta.url)('rhea/lib/frames.js') as {
  transfer(fields: object): unknown;
};

const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);

async function rawSocket(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** Reads everything the hub sends until it closes the socket. */
async function untilClosed(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  // A reset is a close too.
  await new Promise((resolve) => s.once('close', resolve));
  return Buffer.concat(chunks);
}

describe('AMQP bad input', () => {
  let h: AmqpHarness;
  before(async () => {
    h = await startAmqpHarness({ amqp: { maxLinksPerConnection: 4 } });
    await h.createDevice('dev1');
  });
  after(() => h.close());

  async function stillServing(): Promise<void> {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    await c.close();
  }

  test('random bytes after the AMQP header close that connection only', async () => {
    for (let i = 0; i < 20; i++) {
      const s = await rawSocket(h.port);
      const closed = untilClosed(s);
      s.write(Buffer.concat([AMQP_HEADER, randomBytes(64 + i * 13)]));
      const got = await closed;
      // The hub answered with its own header before giving up, or with nothing.
      if (got.length > 0) assert.deepEqual(got.subarray(0, 4), Buffer.from('AMQP'));
    }
    await stillServing();
  });

  test('a header that is not AMQP, and a frame size beyond max-frame-size, close the connection', async () => {
    const s1 = await rawSocket(h.port);
    const c1 = untilClosed(s1);
    s1.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await c1;
    const s2 = await rawSocket(h.port);
    const c2 = untilClosed(s2);
    const huge = Buffer.alloc(1024);
    huge.writeUInt32BE(0x7fffffff, 0);
    huge.writeUInt8(2, 4);
    s2.write(Buffer.concat([AMQP_HEADER, huge]));
    await c2;
    await stillServing();
  });

  test('unknown addresses are refused with amqp:not-found; D2C telemetry with amqp:not-implemented', async () => {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    assert.equal((await c.attachReceiver('/nowhere')).error?.condition, 'amqp:not-found');
    assert.equal((await c.attachSender('/nowhere')).error?.condition, 'amqp:not-found');
    assert.equal((await c.attachSender('/devices/dev1/messages/events')).error?.condition, 'amqp:not-implemented');
    // The connection still works.
    const s = await c.attachSender('/messages/devicebound');
    assert.equal((await c.send(s.link, c2d('dev1', 'ok'))).state, 'accepted');
    await c.close();
  });

  test('a transfer without its delivery-id closes that connection with amqp:invalid-field', async () => {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    const { link } = await c.attachSender('/messages/devicebound');
    await eventually(() => link.sendable(), 'credit from the hub');
    // Written below rhea's sender, which always numbers its deliveries: a fuzzer found that the
    // hub took the missing id as undefined and, settling that delivery, could not encode its
    // disposition and exited.
    const l = link as unknown as {
      local: { handle: number };
      session: { output(frame: unknown, payload: Buffer): void };
    };
    const payload = rhea.message.encode(c2d('dev1', 'no id'));
    l.session.output(
      rheaFrames.transfer({ handle: l.local.handle, delivery_tag: Buffer.from('t'), message_format: 0 }),
      payload,
    );
    const error = await c.closed;
    assert.equal(error?.condition, 'amqp:invalid-field');
    assert.match(error?.description ?? '', /delivery-id/);
    await stillServing();
  });

  test('links beyond maxLinksPerConnection are refused with amqp:resource-limit-exceeded', async () => {
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200); // 2 links ($cbs both ways)
    assert.equal((await c.attachSender('/messages/devicebound')).error, undefined);
    assert.equal((await c.attachReceiver('/messages/serviceBound/feedback')).error, undefined);
    assert.equal((await c.attachSender('/messages/devicebound')).error?.condition, 'amqp:resource-limit-exceeded');
    await c.close();
  });
});

describe('AMQP caps, idle and shutdown', () => {
  test('connections beyond maxConnections are closed with amqp:resource-limit-exceeded', async () => {
    const h = await startAmqpHarness({ amqp: { maxConnections: 1 } });
    try {
      const first = await h.connect();
      const second = await h.connect();
      const err = await second.closed;
      assert.equal(err && 'condition' in err ? err.condition : undefined, 'amqp:resource-limit-exceeded');
      assert.equal((await first.putToken(h.serviceToken())).status, 200);
      await first.close();
    } finally {
      await h.close();
    }
  });

  test('a connection that never opens is dropped after the idle time-out', async () => {
    const h = await startAmqpHarness({ amqp: { idleTimeoutMs: 30_000 } });
    try {
      const s = await rawSocket(h.port);
      const closed = untilClosed(s);
      s.write(AMQP_HEADER);
      await eventually(() => h.gateway.connectionCount === 1, 'connection accepted');
      h.clock.advance(30_001);
      await closed;
    } finally {
      await h.close();
    }
  });

  test('close() returns leased messages and closes client connections with amqp:connection:forced', async () => {
    const h = await startAmqpHarness();
    await h.createDevice('dev1');
    const svc = await h.connect();
    assert.equal((await svc.putToken(h.serviceToken())).status, 200);
    const s = await svc.attachSender('/messages/devicebound');
    for (let i = 0; i < 3; i++) assert.equal((await svc.send(s.link, c2d('dev1', `m${i}`))).state, 'accepted');
    const dev = await h.connect();
    assert.equal((await dev.putToken(await h.deviceToken('dev1'))).status, 200);
    const r = await dev.attachReceiver('/devices/dev1/messages/devicebound');
    await new Inbox(r.link).atLeast(3);
    const devClosed = dev.closed;
    await h.gateway.close();
    const err = await devClosed;
    assert.equal(err && 'condition' in err ? err.condition : undefined, 'amqp:connection:forced');
    assert.equal(h.gateway.connectionCount, 0);
    const back = await h.engine.receive('dev1', 10);
    assert.equal(back.length, 3);
    assert.ok(back.every((d) => d.deliveryCount === 0));
    await h.close();
  });
});
