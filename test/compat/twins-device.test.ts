/**
 * Twins end to end with the official clients: azure-iot-device with azure-iot-device-mqtt (Mqtt,
 * MqttWs) and azure-iot-device-amqp (Amqp, AmqpWs) against a real hub, the service side through azure-iothub's Registry. A desired update
 * made while the device is offline is in getTwin on connect; one made while it is online arrives
 * as a notification with the new $version; reported updates show in Registry.getTwin with their
 * $metadata; a refused reported update is an error to the device and the connection carries on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from 'azure-iot-device';
import type { Registry } from 'azure-iothub';
import iothub from 'azure-iothub';
import mqtt, { type MqttClient } from 'mqtt';
import { type HubProcess, startHub } from './harness.js';
import { desiredEnabled, update } from './helpers/device-twin.js';
import { Inbox } from './helpers/inbox.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { mqttOptions } from './mqtt-helpers.js';

const T = { timeout: 60_000 };

let hub: HubProcess;
let registry: Registry;

before(async () => {
  hub = await startHub();
  registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
});

after(async () => {
  await hub?.stop();
});

const TRANSPORTS = ['Mqtt', 'MqttWs', 'Amqp', 'AmqpWs'] as const;

for (const name of TRANSPORTS) {
  describe(`twins over ${name}`, () => {
    const id = `twin-${name.toLowerCase()}`;
    let cs: string;
    before(async () => {
      cs = await hub.createDevice(id);
    });

    test('a desired update made while offline is in getTwin on connect', T, async () => {
      await registry.updateTwin(id, { properties: { desired: { rate: 5, cfg: { mode: 'eco' } } } }, '*');
      let client: Client | undefined;
      try {
        client = await openDevice(hub, cs, name);
        const twin = await withTimeout(client.getTwin(), 15_000, 'getTwin');
        assert.equal(twin.properties.desired.rate, 5);
        assert.deepEqual(twin.properties.desired.cfg, { mode: 'eco' });
        assert.equal(twin.properties.desired.$version, 2);
        assert.equal(twin.properties.reported.$version, 1);
      } finally {
        await closeDevice(client);
      }
    });

    test('online: a desired update arrives with its $version; reported updates reach Registry.getTwin', T, async () => {
      let client: Client | undefined;
      try {
        client = await openDevice(hub, cs, name);
        const twin = await withTimeout(client.getTwin(), 15_000, 'getTwin');
        const deltas = new Inbox<Record<string, unknown>>();
        twin.on('properties.desired', (delta: Record<string, unknown>) => deltas.push(delta));
        // The listener first gets the desired properties it has.
        assert.equal((await deltas.next(10_000, 'the current desired properties')).rate, 5);
        await desiredEnabled(twin);
        const { responseBody: before } = await registry.getTwin(id);
        await registry.updateTwin(id, { properties: { desired: { rate: 7, cfg: null } } }, before.etag);
        const delta = await deltas.next(10_000, 'the desired notification');
        assert.deepEqual(delta, { rate: 7, cfg: null, $version: before.properties.desired.$version + 1 });
        assert.equal(twin.properties.desired.rate, 7);
        assert.equal(twin.properties.desired.cfg, undefined);

        await update(twin, { fw: { version: '1.2.3' }, battery: 80 });
        const { responseBody: seen } = await registry.getTwin(id);
        const reported = (seen.properties as { reported: Record<string, unknown> }).reported;
        assert.deepEqual(reported.fw, { version: '1.2.3' });
        assert.equal(reported.battery, 80);
        assert.equal(reported.$version, 2);
        const meta = reported.$metadata as Record<string, { $lastUpdated?: string }>;
        assert.ok(!Number.isNaN(Date.parse(meta.battery?.$lastUpdated ?? '')), 'reported $metadata.$lastUpdated');
        // Over AMQP a device shows Connected while its C2D link is attached (docs/twins.md); MQTT at once.
        if (name.startsWith('Mqtt')) {
          assert.equal((seen as unknown as { connectionState: string }).connectionState, 'Connected');
        }
      } finally {
        await closeDevice(client);
      }
    });

    test('a refused reported update is an error to the device; the connection carries on', T, async () => {
      let client: Client | undefined;
      try {
        client = await openDevice(hub, cs, name);
        const twin = await withTimeout(client.getTwin(), 15_000, 'getTwin');
        await assert.rejects(update(twin, { 'bad.name': 1 }), /bad\.name/);
        await assert.rejects(update(twin, { long: 'y'.repeat(4097) }), /longer than 4096 bytes/);
        const big = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`s${i}`, 'x'.repeat(4000)]));
        await assert.rejects(update(twin, big), /limit of 32768 bytes/);
        const deep: Record<string, unknown> = {};
        let node = deep;
        for (let i = 0; i < 11; i++) node = node[`l${i}`] = {} as Record<string, unknown>;
        await assert.rejects(update(twin, deep), /deeper than 10/);
        await update(twin, { ok: true });
        const { responseBody: seen } = await registry.getTwin(id);
        assert.equal((seen.properties as { reported: Record<string, unknown> }).reported.ok, true);
        await waitFor(async () => ((await client!.getTwin()).properties.reported.ok === true ? true : undefined), {
          what: 'a getTwin after the refusals',
        });
      } finally {
        await closeDevice(client);
      }
    });
  });
}

/** A raw mqtt.js client (clean session 0) that collects the twin publishes it gets. */
async function rawTwinClient(
  cs: string,
): Promise<{ client: MqttClient; publishes: Inbox<{ topic: string; body: string }> }> {
  const publishes = new Inbox<{ topic: string; body: string }>();
  const client = mqtt.connect(`mqtts://${hub.address}:8883`, mqttOptions(hub, cs));
  client.on('message', (topic, payload) => publishes.push({ topic, body: payload.toString() }));
  client.on('error', () => {});
  await withTimeout(new Promise((resolve) => client.once('connect', resolve)), 15_000, 'raw MQTT connect');
  return { client, publishes };
}

test('clean session 0: the desired subscription outlives the connection and a hub restart', T, async () => {
  const id = 'twin-session';
  const cs = await hub.createDevice(id);
  const first = await rawTwinClient(cs);
  await withTimeout(
    first.client.subscribeAsync('$iothub/twin/PATCH/properties/desired/#', { qos: 0 }),
    10_000,
    'SUBACK',
  );
  await withTimeout(first.client.endAsync(), 10_000, 'disconnect');

  // As after a token renewal: the same client id connects again and does not subscribe.
  const second = await rawTwinClient(cs);
  await registry.updateTwin(id, { properties: { desired: { step: 1 } } }, '*');
  const n1 = await second.publishes.next(10_000, 'a desired notification after reconnecting');
  assert.equal(n1.topic, '$iothub/twin/PATCH/properties/desired/?$version=2');
  assert.deepEqual(JSON.parse(n1.body), { step: 1, $version: 2 });
  await withTimeout(second.client.endAsync(), 10_000, 'disconnect');

  await hub.restart();
  const third = await rawTwinClient(cs);
  try {
    await registry.updateTwin(id, { properties: { desired: { step: 2 } } }, '*');
    const n2 = await third.publishes.next(10_000, 'a desired notification after a hub restart');
    assert.deepEqual(JSON.parse(n2.body), { step: 2, $version: 3 });
  } finally {
    await withTimeout(third.client.endAsync(), 10_000, 'disconnect').catch(() => undefined);
  }
});
