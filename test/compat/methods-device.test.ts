/**
 * Direct methods end to end: azure-iothub's Client.invokeDeviceMethod against devices on
 * azure-iot-device's client.onDeviceMethod over each transport; the errors IoT Hub gives
 * (DeviceNotOnline 404103, GatewayTimeout 504101, the limits); a raw MQTT device answering twice,
 * with a rid it was never sent, and with garbage: ignored or refused, the connection and the hub
 * carrying on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { assertHubError } from './helpers/hub-error.js';
import { echo, failure, invoke, rawInvoke } from './helpers/methods.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { connectSilent } from './mqtt-helpers.js';

const T = { timeout: 60_000 };

let hub: HubProcess;
let service: iothub.Client;

before(async () => {
  hub = await startHub();
  service = iothub.Client.fromConnectionString(hub.ownerConnectionString);
});

after(async () => {
  await service?.close().catch(() => undefined);
  await hub?.stop();
});

const TRANSPORTS = ['Mqtt', 'MqttWs', 'Amqp', 'AmqpWs'] as const;

for (const name of TRANSPORTS) {
  describe(`direct methods over ${name}`, () => {
    const id = `method-${name.toLowerCase()}`;
    let cs: string;
    before(async () => {
      cs = await hub.createDevice(id);
    });

    test('status and payload come back exactly', T, async () => {
      const client = await openDevice(hub, cs, name);
      try {
        client.onDeviceMethod('reboot', echo(201));
        // The connect timeout covers the handler's subscription, still on its way.
        const payload = { when: 'now', n: [1, 2.5, null], s: 'é\u0000"' };
        const result = await invoke(service, id, { methodName: 'reboot', payload, connectTimeoutInSeconds: 10 });
        assert.deepEqual(result, { status: 201, payload: { got: payload, name: 'reboot' } });
        const again = await invoke(service, id, { methodName: 'reboot', payload: 'text' });
        assert.deepEqual(again, { status: 201, payload: { got: 'text', name: 'reboot' } });
      } finally {
        await closeDevice(client);
      }
    });

    test('a device connecting within the connect timeout gets the call', T, async () => {
      const call = invoke(service, id, { methodName: 'late', payload: 7, connectTimeoutInSeconds: 30 });
      const client = await openDevice(hub, cs, name);
      try {
        client.onDeviceMethod('late', echo(200));
        assert.deepEqual(await call, { status: 200, payload: { got: 7, name: 'late' } });
      } finally {
        await closeDevice(client);
      }
    });
  });
}

describe('direct method errors', () => {
  let cs: string;
  before(async () => {
    cs = await hub.createDevice('method-errors');
  });

  test('an offline device: DeviceNotOnline after the connect timeout (none, and 1 s)', T, async () => {
    assert.equal(await failure(service, 'method-errors', { methodName: 'm' }), '404 DeviceNotOnline');
    assert.equal(
      await failure(service, 'method-errors', { methodName: 'm', connectTimeoutInSeconds: 1 }),
      '404 DeviceNotOnline',
    );
  });

  test('an unknown device: DeviceNotFound', T, async () => {
    assert.equal(await failure(service, 'method-nobody', { methodName: 'm' }), '404 DeviceNotFound');
  });

  test('a device that never answers: GatewayTimeout after the response timeout', T, async () => {
    const client = await openDevice(hub, cs, 'Mqtt');
    try {
      client.onDeviceMethod('silent', () => undefined);
      const got = await failure(service, 'method-errors', {
        methodName: 'silent',
        responseTimeoutInSeconds: 5,
        connectTimeoutInSeconds: 10,
      });
      assert.equal(got, '504 GatewayTimeout');
    } finally {
      await closeDevice(client);
    }
  });

  const raw = (body: unknown) => rawInvoke(hub, 'method-errors', body);

  test('bad input: IoT Hub errors, before any device is asked', T, async () => {
    const big = 'x'.repeat(128 * 1024);
    assertHubError(await raw({ methodName: 'm', payload: big }), 413, 'MessageTooLarge', 'oversize payload');
    assertHubError(await raw({ payload: 1 }), 400, 'ArgumentNull', 'no name');
    assertHubError(await raw({ methodName: 'a b' }), 400, 'ArgumentInvalid', 'space in the name');
    assertHubError(await raw({ methodName: 'a/b' }), 400, 'ArgumentInvalid', 'slash in the name');
    assertHubError(await raw({ methodName: 'm', responseTimeoutInSeconds: 4 }), 400, 'ArgumentInvalid', 'too short');
    assertHubError(await raw({ methodName: 'm', responseTimeoutInSeconds: 301 }), 400, 'ArgumentInvalid', 'too long');
    assertHubError(await raw({ methodName: 'm', connectTimeoutInSeconds: -1 }), 400, 'ArgumentInvalid', 'negative');
    assertHubError(await raw({ methodName: 'm', connectTimeoutInSeconds: '5' }), 400, 'ArgumentInvalid', 'a string');
    assertHubError(await raw('[1]'), 400, 'ArgumentInvalid', 'an array');
    assertHubError(await raw('{"methodName":'), 400, ['ArgumentInvalid', 'GenericBadRequest'], 'not JSON');
    // A payload just under the limit goes (and finds the device offline).
    assertHubError(await raw({ methodName: 'm', payload: big.slice(0, 128 * 1024 - 10) }), 404, 'DeviceNotOnline');
  });

  test('answers twice, with unknown rids or garbage: ignored or refused, the connection carries on', T, async () => {
    const dev = await connectSilent(hub, cs, { clean: true });
    try {
      const granted = await new Promise<number[]>((resolve, reject) =>
        dev.mqtt.subscribe('$iothub/methods/POST/#', { qos: 0 }, (err, g) =>
          err ? reject(err) : resolve((g ?? []).map((x) => x.qos)),
        ),
      );
      assert.deepEqual(granted, [0]);
      const answer = (topic: string, body: string) => dev.mqtt.publish(topic, body, { qos: 0 });
      answer('$iothub/methods/res/200/?$rid=never-sent', '{}');
      answer('$iothub/methods/res/abc/?$rid=1', '{}');
      answer('$iothub/methods/res/200/', '{}');

      const first = raw({ methodName: 'ping', payload: { a: 1 }, responseTimeoutInSeconds: 20 });
      const req = await dev.nth(1);
      const m = /^\$iothub\/methods\/POST\/ping\/\?\$rid=(.+)$/.exec(req.topic);
      assert.ok(m, `request topic ${req.topic}`);
      assert.deepEqual(JSON.parse(req.payload.toString()), { a: 1 });
      answer(`$iothub/methods/res/202/?$rid=${m[1]}`, '{"ok":true}');
      answer(`$iothub/methods/res/500/?$rid=${m[1]}`, '{"ok":false}');
      const res = await first;
      assert.equal(res.status, 200, res.body.toString());
      assert.deepEqual(JSON.parse(res.body.toString()), { status: 202, payload: { ok: true } });

      const second = raw({ methodName: 'garbage', responseTimeoutInSeconds: 20 });
      const req2 = await dev.nth(2);
      const rid2 = /\?\$rid=(.+)$/.exec(req2.topic)![1]!;
      answer(`$iothub/methods/res/200/?$rid=${rid2}`, 'not json {');
      assertHubError(await second, 400, 'ArgumentInvalid', 'garbage answer');

      const third = raw({ methodName: 'empty', responseTimeoutInSeconds: 20 });
      const req3 = await dev.nth(3);
      answer(`$iothub/methods/res/204/?$rid=${/\?\$rid=(.+)$/.exec(req3.topic)![1]}`, '');
      const res3 = await third;
      assert.deepEqual(JSON.parse(res3.body.toString()), { status: 204, payload: null });
      assert.equal(dev.mqtt.connected, true);
    } finally {
      await dev.end();
    }
  });
});
