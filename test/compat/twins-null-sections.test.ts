/**
 * Found by Microsoft's twin_e2e_tests.js ("can null out all tags", "can null out all desired
 * properties"): a twin PATCH with `"tags": null` or `"properties": {"desired": null}` changed
 * nothing on Ferry, where IoT Hub deletes every tag, or every desired property. The device is
 * sent a null for each desired property that went, so its merged copy (the official client's
 * Twin) ends up empty too, and the desired $version moves on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from 'azure-iot-device';
import iothub, { type Registry } from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { Inbox } from './helpers/inbox.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { withTimeout } from './helpers/wait.js';

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

test('PATCH "tags": null deletes every tag', T, async () => {
  await hub.createDevice('null-tags');
  await registry.updateTwin('null-tags', { tags: { site: 'a', cfg: { x: 1 } } }, '*');
  const { responseBody: patched } = await registry.updateTwin('null-tags', { tags: null }, '*');
  assert.deepEqual(patched.tags, {});
  const { responseBody: read } = await registry.getTwin('null-tags');
  assert.deepEqual(read.tags, {});
});

test('PATCH "desired": null deletes every desired property; the device gets a null for each', T, async () => {
  const cs = await hub.createDevice('null-desired');
  await registry.updateTwin('null-desired', { properties: { desired: { rate: 5, cfg: { mode: 'eco' } } } }, '*');
  let client: Client | undefined;
  try {
    client = await openDevice(hub, cs, 'Mqtt');
    const twin = await withTimeout(client.getTwin(), 15_000, 'getTwin');
    const deltas = new Inbox<Record<string, unknown>>();
    twin.on('properties.desired', (delta: Record<string, unknown>) => deltas.push(delta));
    assert.equal((await deltas.next(10_000, 'the current desired properties')).rate, 5);
    const t = twin as unknown as { enableTwinDesiredPropertiesUpdates(cb: (err?: Error) => void): void };
    await withTimeout(
      new Promise<void>((resolve, reject) => t.enableTwinDesiredPropertiesUpdates((e) => (e ? reject(e) : resolve()))),
      15_000,
      'desired updates enabled',
    );

    const { responseBody: patched } = await registry.updateTwin('null-desired', { properties: { desired: null } }, '*');
    const desired = (patched.properties as { desired: Record<string, unknown> }).desired;
    assert.deepEqual(Object.keys(desired).sort(), ['$metadata', '$version']);
    assert.equal(desired.$version, 3);

    const delta = await deltas.next(10_000, 'the desired notification');
    assert.deepEqual(delta, { rate: null, cfg: null, $version: 3 });
    assert.deepEqual(
      Object.keys(twin.properties.desired).filter((k) => !k.startsWith('$')),
      [],
      "the device's twin still holds desired properties",
    );
  } finally {
    await closeDevice(client);
  }
});
