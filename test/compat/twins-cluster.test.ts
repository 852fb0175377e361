/**
 * Twins on two real hub processes sharing one PostgreSQL schema: a desired update made through
 * node A reaches a device connected to node B at once (the twin signal over LISTEN/NOTIFY), over
 * MQTT and AMQP; a reported update made on B is read through A; a query through B sees tags set
 * through A.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, test } from 'node:test';
import type { Client } from 'azure-iot-device';
import deviceSdk from 'azure-iot-device';
import deviceAmqp from 'azure-iot-device-amqp';
import deviceMqtt from 'azure-iot-device-mqtt';
import type { Registry } from 'azure-iothub';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { Inbox } from './helpers/inbox.js';
import { atNode, clusterStore, dropSchema } from './helpers/postgres.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 90_000 };
const store = clusterStore('twins');
let a: HubProcess;
let b: HubProcess;
let registryA: Registry;
let registryB: Registry;
let failed = false;

before(async () => {
  [a, b] = await Promise.all([startHub({ store }), startHub({ store })]);
  registryA = iothub.Registry.fromConnectionString(a.ownerConnectionString);
  registryB = iothub.Registry.fromConnectionString(b.ownerConnectionString);
});

afterEach((t) => {
  if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (!failed) await dropSchema(store.schema);
});

const TRANSPORTS: Array<[string, Parameters<typeof deviceSdk.Client.fromConnectionString>[1]]> = [
  ['Mqtt', deviceMqtt.Mqtt],
  ['Amqp', deviceAmqp.Amqp],
];

for (const [name, transport] of TRANSPORTS) {
  test(`a desired update through node A reaches a ${name} device on node B`, T, async () => {
    const id = `cluster-twin-${name.toLowerCase()}`;
    const cs = atNode(await a.createDevice(id), b.address);
    let client: Client | undefined;
    try {
      client = deviceSdk.Client.fromConnectionString(cs, transport);
      await withTimeout(client.setOptions({ ca: readFileSync(b.caFile, 'utf8') }), 5000, 'setOptions');
      client.on('error', () => {});
      await withTimeout(client.open(), 15_000, 'device open on node B');
      const twin = await withTimeout(client.getTwin(), 15_000, 'getTwin on node B');
      const deltas = new Inbox<Record<string, unknown>>();
      twin.on('properties.desired', (d: Record<string, unknown>) => deltas.push(d));
      await withTimeout(
        new Promise<void>((resolve, reject) =>
          (
            twin as unknown as { enableTwinDesiredPropertiesUpdates(cb: (e?: Error) => void): void }
          ).enableTwinDesiredPropertiesUpdates((err) => (err ? reject(err) : resolve())),
        ),
        15_000,
        'desired updates enabled',
      );
      await registryA.updateTwin(id, { properties: { desired: { target: 'v2' } } }, '*');
      let delta = await deltas.next(10_000, 'a desired notification from node A');
      // The listener's first call may be the (empty) desired properties it had.
      if (delta.target === undefined) delta = await deltas.next(10_000, 'a desired notification from node A');
      assert.deepEqual(delta, { target: 'v2', $version: 2 });

      await withTimeout(
        new Promise<void>((resolve, reject) =>
          twin.properties.reported.update({ running: 'v2' }, (err?: Error) => (err ? reject(err) : resolve())),
        ),
        15_000,
        'reported update on node B',
      );
      const { responseBody } = await registryA.getTwin(id);
      assert.equal((responseBody.properties as { reported: Record<string, unknown> }).reported.running, 'v2');
    } finally {
      if (client) await withTimeout(client.close(), 5000, 'close').catch(() => undefined);
    }
  });
}

test('a query through node B sees tags set through node A', T, async () => {
  await a.createDevice('cluster-q1');
  await registryA.updateTwin('cluster-q1', { tags: { site: 'north' } }, '*');
  const { result } = await registryB.createQuery("SELECT * FROM devices WHERE tags.site = 'north'").nextAsTwin();
  assert.deepEqual(
    result.map((t) => t.deviceId),
    ['cluster-q1'],
  );
});
