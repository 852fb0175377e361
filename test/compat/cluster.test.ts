/**
 * Two real `ferry hub start` processes on one PostgreSQL schema, on two loopback addresses, driven
 * by the official SDKs: one hub served by both nodes (issue 9), with one connection state (issue 28).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { parseHubConnectionString } from '@ferry/common';
import common from 'azure-iot-common';
import iothub from 'azure-iothub';
import mqtt, { type IConnackPacket } from 'mqtt';
import pg from 'pg';
import { c2dMessage, openAmqpDevice, openService, type Service } from './amqp-helpers.js';
import { type HubProcess, hubRequest, hubStream, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { atNode, clusterStore, dropSchema, PG_URL } from './helpers/postgres.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { mqttOptions, openMqttDevice } from './mqtt-helpers.js';

const T = { timeout: 90_000 };
const store = clusterStore('cluster');
let a: HubProcess;
let b: HubProcess;
let service: Service;
let failed = false;

before(async () => {
  // Started together: the schema migration and the first policies are made once under a lock.
  const config = { feedback: { batchDelayMs: 0 } };
  [a, b] = await Promise.all([startHub({ store, config }), startHub({ store, config })]);
  service = await openService(a, 'Amqp');
});

afterEach((t) => {
  if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
});

after(async () => {
  await service?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  if (!failed) await dropSchema(store.schema);
});

/** Resolves when the official client reports it lost its connection. */
function cut(client: NodeJS.EventEmitter): Promise<unknown> {
  return new Promise((resolve) => {
    client.once('disconnect', resolve);
    client.once('error', resolve);
  });
}

test('both nodes print and accept the same shared access policies', T, async () => {
  for (const policy of ['iothubowner', 'service', 'device', 'registryRead', 'registryReadWrite']) {
    const ka = parseHubConnectionString(a.connectionString(policy)).sharedAccessKey;
    const kb = parseHubConnectionString(b.connectionString(policy)).sharedAccessKey;
    assert.equal(ka, kb, `policy ${policy}`);
  }
  // A device created on A is known to B.
  const registryB = iothub.Registry.fromConnectionString(b.ownerConnectionString);
  await a.createDevice('shared-dev');
  assert.equal((await registryB.get('shared-dev')).responseBody.deviceId, 'shared-dev');
});

test('sent through node A, received by an MQTT device on node B; node A gets the Success feedback', T, async () => {
  const cs = await a.createDevice('mqtt-b');
  const device = await openMqttDevice(b, atNode(cs, b.address));
  try {
    await withTimeout(
      service.client.send('mqtt-b', c2dMessage('hello', { messageId: 'x1', ack: 'full' })),
      20_000,
      'send',
    );
    const m = await device.next(15_000);
    assert.equal(m.messageId, 'x1');
    assert.equal(m.data.toString(), 'hello');
    const record = await service.feedback.next(15_000, 'the Success feedback record');
    assert.deepEqual([record.originalMessageId, record.deviceId, record.statusCode], ['x1', 'mqtt-b', 'Success']);
  } finally {
    await device.close();
  }
});

test('an AMQP device that reconnects to the other node gets the messages it did not settle', T, async () => {
  const cs = await a.createDevice('amqp-move');
  const first = await openAmqpDevice(a, cs, 'Amqp');
  for (const id of ['u1', 'u2'])
    await withTimeout(service.client.send('amqp-move', c2dMessage(id, { messageId: id })), 20_000, 'send');
  const got = [await first.inbox.next(15_000), await first.inbox.next(15_000)].map((m) => m.messageId);
  assert.deepEqual(got, ['u1', 'u2']);
  await first.close(); // not settled: the hub releases them when the link goes
  const second = await openAmqpDevice(b, atNode(cs, b.address), 'Amqp');
  try {
    const again = [await second.inbox.next(15_000), await second.inbox.next(15_000)];
    assert.deepEqual(
      again.map((m) => m.messageId),
      ['u1', 'u2'],
    );
    for (const m of again) await withTimeout(second.client.complete(m), 10_000, 'complete');
  } finally {
    await second.close();
  }
});

test('a device connecting to node B while connected to node A takes over', T, async () => {
  const cs = await a.createDevice('takeover');
  const first = await openMqttDevice(a, cs);
  first.client.setRetryPolicy(new common.NoRetry());
  const second = await (async () => {
    await withTimeout(service.client.send('takeover', c2dMessage('1', { messageId: 'before' })), 20_000, 'send');
    assert.equal((await first.next(15_000)).messageId, 'before'); // first is connected
    const dropped = cut(first.client);
    const s = await openMqttDevice(b, atNode(cs, b.address));
    await withTimeout(dropped, 15_000, 'the node A connection dropped by the takeover');
    return s;
  })();
  try {
    await first.close();
    await withTimeout(service.client.send('takeover', c2dMessage('2', { messageId: 'after' })), 20_000, 'send');
    assert.equal((await second.next(15_000)).messageId, 'after');
  } finally {
    await second.close();
  }
});

test('disabling the device on node A cuts its connection on node B', T, async () => {
  const cs = await a.createDevice('disable-me');
  const device = await openMqttDevice(b, atNode(cs, b.address));
  device.client.setRetryPolicy(new common.NoRetry());
  try {
    await withTimeout(service.client.send('disable-me', c2dMessage('1', { messageId: 'on' })), 20_000, 'send');
    assert.equal((await device.next(15_000)).messageId, 'on');
    const dropped = cut(device.client);
    const registryA = iothub.Registry.fromConnectionString(a.ownerConnectionString);
    await registryA.update({ deviceId: 'disable-me', status: 'disabled' });
    await withTimeout(dropped, 15_000, 'the node B connection cut by the disable on node A');
  } finally {
    await device.close();
  }
});

test(
  "disabled through node A just after node B's LISTEN connection was terminated: node B still cuts the device",
  T,
  async () => {
    const cs = await a.createDevice('disable-unheard');
    const device = await openMqttDevice(b, atNode(cs, b.address));
    device.client.setRetryPolicy(new common.NoRetry());
    try {
      const nodes = await hubRequest(b, 'GET', '/nodes?api-version=2021-04-12', {
        headers: { authorization: serviceSas(b) },
      });
      const listed = JSON.parse(nodes.body.toString()) as { nodes: Array<{ nodeId: string; address: string }> };
      const nodeB = listed.nodes.find((n) => n.address.startsWith(`${b.address}:`));
      assert.ok(nodeB, nodes.body.toString());
      const dropped = cut(device.client);
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      try {
        const r = await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [`ferry-signals-${nodeB.nodeId}`.slice(0, 63)],
        );
        assert.equal(r.rowCount, 1, "node B's LISTEN connection");
      } finally {
        await admin.end();
      }
      // The disable's NOTIFY may go out while node B is not listening: it reads the change sequence
      // once it listens again (cluster/registry-replay.ts).
      await iothub.Registry.fromConnectionString(a.ownerConnectionString).update({
        deviceId: 'disable-unheard',
        status: 'disabled',
      });
      await withTimeout(dropped, 20_000, 'the node B connection cut by the disable on node A');
      await waitFor(() => b.output().includes('cluster signal connection lost') || undefined, {
        timeoutMs: 10_000,
        what: 'node B logging its LISTEN connection lost',
      });
    } finally {
      await device.close();
    }
  },
);

test('an MQTT persistent session made on node A is resumed on node B', T, async () => {
  const cs = await a.createDevice('session');
  const first = await mqtt.connectAsync(`mqtts://${a.address}:8883`, mqttOptions(a, cs));
  await first.subscribeAsync('devices/session/messages/devicebound/#', { qos: 1 });
  await first.endAsync();
  await withTimeout(service.client.send('session', c2dMessage('kept', { messageId: 'kept' })), 20_000, 'send');
  const csB = atNode(cs, b.address);
  const second = mqtt.connect(`mqtts://${b.address}:8883`, mqttOptions(b, csB));
  second.on('error', () => undefined);
  try {
    const message = new Promise<Buffer>((resolve) => second.once('message', (_topic, payload) => resolve(payload)));
    const connack = await withTimeout(
      new Promise<IConnackPacket>((resolve) => second.once('connect', resolve)),
      10_000,
      'CONNACK from node B',
    );
    assert.equal(connack.sessionPresent, true, 'the session made on node A is present on node B');
    // No SUBSCRIBE on node B: the stored subscription delivers.
    assert.equal((await withTimeout(message, 15_000, 'the message on the resumed session')).toString(), 'kept');
  } finally {
    await second.endAsync();
  }
});

/** What a node's console statistics (GET /events) hold of the hub's nodes. */
interface NodeStats {
  devicesConnected: number;
  c2d: { sent: number; completed: number };
  nodes?: Array<{ nodeId: string; self: boolean; c2d: { sent: number } }>;
}

/** One device's connectionState as GET /devices/{id}, GET /twins/{id}, GET /devices and POST /devices/query show it. */
async function stateViews(registry: iothub.Registry, deviceId: string): Promise<string[]> {
  const [device, twin, list, query] = await Promise.all([
    registry.get(deviceId),
    registry.getTwin(deviceId),
    registry.list(),
    registry.createQuery(`SELECT * FROM devices WHERE deviceId = '${deviceId}'`).next(),
  ]);
  const listed = list.responseBody.find((d) => d.deviceId === deviceId);
  const queried = (query.result as Array<{ connectionState?: string }>)[0];
  const twinState = (twin.responseBody as unknown as { connectionState?: string }).connectionState;
  const states = [device.responseBody.connectionState, twinState, listed?.connectionState, queried?.connectionState];
  return states.map(String);
}

test(
  'the device, its twin, the device list and a query give the same connectionState through either node; GET /nodes lists both (issue 28)',
  T,
  async () => {
    const cs = await a.createDevice('presence-dev');
    const registries = [a, b].map((hub) => iothub.Registry.fromConnectionString(hub.ownerConnectionString));
    const states = async () => (await Promise.all(registries.map((r) => stateViews(r, 'presence-dev')))).flat();
    assert.deepEqual(await states(), Array(8).fill('Disconnected'));
    const device = await openMqttDevice(a, atNode(cs, a.address));
    try {
      // Node A writes the connect as it happens; node B reads it from the store.
      await waitFor(async () => (await states()).every((s) => s === 'Connected') || undefined, {
        timeoutMs: 10_000,
        what: 'Connected in every view through both nodes',
      });
      const reply = await hubRequest(b, 'GET', '/nodes?api-version=2021-04-12', {
        headers: { authorization: serviceSas(b) },
      });
      assert.equal(reply.status, 200, reply.body.toString());
      const body = JSON.parse(reply.body.toString()) as { connectedDevices: number; nodes: Array<{ address: string }> };
      assert.deepEqual(body.nodes.map((n) => n.address.split(':')[0]).sort(), [a.address, b.address].sort());
      assert.ok(body.connectedDevices >= 1);
    } finally {
      await device.close();
    }
    await waitFor(async () => (await states()).every((s) => s === 'Disconnected') || undefined, {
      timeoutMs: 10_000,
      what: 'Disconnected in every view through both nodes',
    });
  },
);

test(
  "a console on node B sees the feedback records of node A's devices live, counts them connected, and sums node A's sends and completions (issue 28)",
  T,
  async () => {
    const cs = await a.createDevice('feedback-live');
    const events = await hubStream(b, '/events?deviceId=feedback-live&api-version=2021-04-12', {
      authorization: serviceSas(b),
    });
    const device = await openMqttDevice(a, atNode(cs, a.address));
    try {
      assert.equal(events.status, 200);
      await withTimeout(
        service.client.send('feedback-live', c2dMessage('hi', { messageId: 'seen-on-b', ack: 'full' })),
        20_000,
        'send',
      );
      assert.equal((await device.next(15_000)).messageId, 'seen-on-b');
      const record = await waitFor(
        () => events.text().match(/event: feedback\ndata: (.*"originalMessageId":"seen-on-b".*)\n/)?.[1],
        { timeoutMs: 15_000, what: "node A's feedback record on node B's event stream" },
      );
      const parsed = JSON.parse(record) as { deviceId: string; statusCode: string };
      assert.deepEqual([parsed.deviceId, parsed.statusCode], ['feedback-live', 'Success']);
      // Node B's statistics count the device connected to node A (read by B's next heartbeat), and
      // the send and completion made on node A (published by A's next heartbeat), with both nodes' totals.
      const stats = await waitFor(
        () =>
          [...events.text().matchAll(/event: stats\ndata: (.*)\n/g)]
            .map((m) => JSON.parse(m[1]!) as NodeStats)
            .find(
              (s) =>
                s.devicesConnected >= 1 &&
                s.c2d.sent >= 1 &&
                s.c2d.completed >= 1 &&
                s.nodes?.some((n) => !n.self && n.c2d.sent >= 1),
            ),
        { timeoutMs: 30_000, what: "node B's statistics counting the device, send and completion on node A" },
      );
      assert.equal(stats.nodes?.length, 2);
      assert.equal(stats.nodes?.filter((n) => n.self).length, 1);
    } finally {
      events.close();
      await device.close();
    }
  },
);
