/**
 * Direct methods on two real hub processes sharing one PostgreSQL schema: azure-iothub's
 * invokeDeviceMethod through node A, azure-iot-device's onDeviceMethod on node B. Status and
 * payload come back exact (a payload of 100 KB each way too, past NOTIFY's 8000 bytes); a device
 * connected nowhere is DeviceNotOnline (404103); a device that never answers is GatewayTimeout
 * (504101); a device that connects to B within the connect timeout gets the call; a clean-session-0
 * device's methods subscription follows it to the other node in its persistent session. Node A's
 * /metrics counts each result and passes promtool.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { echo, failure, invoke } from './helpers/methods.js';
import { freePort, promtool, scrape } from './helpers/metrics-scrape.js';
import { closeDevice, type DeviceTransport, openDevice } from './helpers/official-device.js';
import { atNode, clusterStore, dropSchema } from './helpers/postgres.js';
import { connectSilent } from './mqtt-helpers.js';

const T = { timeout: 90_000 };
const store = clusterStore('methods');
let a: HubProcess;
let b: HubProcess;
let service: iothub.Client;
let serviceB: iothub.Client;
let metricsPort: number;
let failed = false;

before(async () => {
  metricsPort = await freePort();
  [a, b] = await Promise.all([
    startHub({ store, config: { observability: { port: metricsPort, bind: '127.0.0.1' } } }),
    startHub({ store }),
  ]);
  service = iothub.Client.fromConnectionString(a.ownerConnectionString);
  serviceB = iothub.Client.fromConnectionString(b.ownerConnectionString);
});

afterEach((t) => {
  if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
});

after(async () => {
  await service?.close().catch(() => undefined);
  await serviceB?.close().catch(() => undefined);
  await Promise.all([a?.stop(), b?.stop()]);
  if (!failed) await dropSchema(store.schema);
});

/** A device created through A, connected to B. */
async function onNodeB(id: string, transport: DeviceTransport) {
  const cs = atNode(await a.createDevice(id), b.address);
  return openDevice(b, cs, transport);
}

for (const transport of ['Mqtt', 'Amqp'] as const) {
  test(
    `a method invoked through node A reaches a ${transport} device on node B, status and payload exact`,
    T,
    async () => {
      const id = `mc-${transport.toLowerCase()}`;
      const client = await onNodeB(id, transport);
      try {
        client.onDeviceMethod('reboot', echo(201));
        const payload = { when: 'now', n: [1, 2.5, null], s: 'é\u0000"|' };
        // The connect timeout covers the handler's subscription, still on its way.
        assert.deepEqual(await invoke(service, id, { methodName: 'reboot', payload, connectTimeoutInSeconds: 20 }), {
          status: 201,
          payload: { got: payload, name: 'reboot' },
        });
        const big = 'y'.repeat(100 * 1024);
        assert.deepEqual(await invoke(service, id, { methodName: 'reboot', payload: big }), {
          status: 201,
          payload: { got: big, name: 'reboot' },
        });
      } finally {
        await closeDevice(client);
      }
    },
  );
}

test('a device connected to no node: DeviceNotOnline (no connect timeout, and 1 s)', T, async () => {
  await a.createDevice('mc-offline');
  assert.equal(await failure(service, 'mc-offline', { methodName: 'm' }), '404 DeviceNotOnline');
  assert.equal(
    await failure(service, 'mc-offline', { methodName: 'm', connectTimeoutInSeconds: 1 }),
    '404 DeviceNotOnline',
  );
});

test('a device on node B that never answers: GatewayTimeout', T, async () => {
  const client = await onNodeB('mc-silent', 'Mqtt');
  try {
    client.onDeviceMethod('silent', () => undefined);
    const got = await failure(service, 'mc-silent', {
      methodName: 'silent',
      responseTimeoutInSeconds: 5,
      connectTimeoutInSeconds: 20,
    });
    assert.equal(got, '504 GatewayTimeout');
  } finally {
    await closeDevice(client);
  }
});

test('a device connecting to node B within the connect timeout gets the call made through A', T, async () => {
  const cs = atNode(await a.createDevice('mc-late'), b.address);
  const call = invoke(service, 'mc-late', { methodName: 'late', payload: 7, connectTimeoutInSeconds: 40 });
  const client = await openDevice(b, cs, 'Mqtt');
  try {
    client.onDeviceMethod('late', echo(200));
    assert.deepEqual(await call, { status: 200, payload: { got: 7, name: 'late' } });
  } finally {
    await closeDevice(client);
  }
});

test(
  'a clean-session-0 device subscribed on B keeps its methods subscription when it reconnects to A without subscribing',
  T,
  async () => {
    const cs = await a.createDevice('mc-session');
    const first = await connectSilent(b, atNode(cs, b.address), { clean: false });
    await first.mqtt.subscribeAsync('$iothub/methods/POST/#', { qos: 0 });
    await first.end();
    // The SAS renewal of the official clients: CONNECT again, no SUBSCRIBE (here on the other node).
    const again = await connectSilent(a, cs, { clean: false });
    try {
      const call = invoke(serviceB, 'mc-session', { methodName: 'resumed', payload: [1] });
      const req = await again.nth(1);
      assert.match(req.topic, /^\$iothub\/methods\/POST\/resumed\/\?\$rid=/);
      again.mqtt.publish(`$iothub/methods/res/200/?$rid=${/\?\$rid=(.+)$/.exec(req.topic)![1]}`, '{"back":true}');
      assert.deepEqual(await call, { status: 200, payload: { back: true } });
    } finally {
      await again.end();
    }
    // Clean session 1 drops the session, the methods subscription with it.
    const clean = await connectSilent(b, atNode(cs, b.address), { clean: true });
    try {
      assert.equal(await failure(serviceB, 'mc-session', { methodName: 'm' }), '404 DeviceNotOnline');
    } finally {
      await clean.end();
    }
  },
);

test("node A's /metrics: ferry_methods_total by result and the latency histogram, promtool clean", T, async () => {
  const text = await scrape(metricsPort);
  const value = (result: string) => {
    const m = new RegExp(`^ferry_methods_total\\{result="${result}"[^}]*\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  assert.equal(value('success'), 5, text);
  assert.equal(value('device_not_online'), 2);
  assert.equal(value('timeout'), 1);
  assert.equal(value('device_not_found'), 0);
  const histogramCount = /^ferry_methods_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text);
  assert.equal(Number(histogramCount?.[1]), 8);
  const r = promtool(['check', 'metrics'], text);
  assert.equal(r.status, 0, r.output);
});
