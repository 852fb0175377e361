/**
 * MQTT limits (issue 7): a device that keeps sending refused SUBSCRIBEs is closed at
 * connections.maxRefusals; one that stops reading is closed at connections.writeStallTimeoutMs.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import { HOST, RawClient, startTestHub, subscribe } from './mqtt-helpers.js';

test('refused subscriptions are answered 0x80 until maxRefusals, then the connection is closed', async () => {
  const hub = await startTestHub({ connections: { maxRefusals: 10, loggedRefusals: 2 } });
  const key = await hub.device('dev1');
  await hub.device('dev2');
  const { client } = await hub.connect('dev1', key);
  for (let i = 1; i < 10; i++) assert.deepEqual(await subscribe(client, 'dev2', 1, i), [0x80]);
  // The own topic is still granted: refusals alone count.
  assert.deepEqual(await subscribe(client, 'dev1', 1, 20), [1]);
  client.send({ cmd: 'subscribe', messageId: 21, subscriptions: [{ topic: '#', qos: 0 }] });
  await client.waitClosed();
});

test('a device that stops reading is closed after writeStallTimeoutMs; its in-flight messages go back', async () => {
  // The pump leases a backlog in half windows: 200 in flight lets 100+ x 60 kB fill the buffers.
  const COUNT = 200;
  const hub = await startTestHub({ mqtt: { maxInflight: COUNT }, maxQueueDepth: COUNT });
  const key = await hub.device('dev1');
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    hub.gateway.handle(s, { remoteAddress: '127.0.0.1', transport: 'tls' });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    const client = new RawClient(socket);
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'dev1',
      clean: false,
      keepalive: 0,
      username: `${HOST}/dev1/?api-version=2021-04-12`,
      password: Buffer.from(hub.token('dev1', key)),
    });
    await client.next('connack');
    assert.deepEqual(await subscribe(client, 'dev1'), [1]);
    socket.pause(); // the device stops reading
    const body = Buffer.alloc(60_000, 1);
    for (let i = 0; i < COUNT; i++) await hub.engine.send('dev1', { body });
    // 6 MB and more of PUBLISH do not fit in the loopback buffers: the hub's side fills up.
    await waitFor(() => sockets.some((s) => s.writableNeedDrain), 'the hub cannot write more');
    assert.equal(hub.gateway.connectionCount, 1, 'still open before the deadline');
    hub.clock.advance(DEFAULT_CONFIG.connections.writeStallTimeoutMs);
    await waitFor(() => hub.gateway.connectionCount === 0, 'the stalled connection is closed');
    // Every message is Enqueued again: leased here (at most 100 a call) they add up to COUNT.
    let released = 0;
    await waitForAsync(async () => {
      released += (await hub.engine.receive('dev1', 100)).length;
      return released === COUNT;
    }, 'in-flight messages released');
    socket.destroy();
  } finally {
    server.close();
    for (const s of sockets) s.destroy();
  }
});

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  await waitForAsync(async () => cond(), what);
}

async function waitForAsync(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}
