/**
 * A registry change reaches live MQTT connections: a disabled or deleted device is cut off (its
 * in-flight messages go back), and a connection whose token was signed with a key the device no
 * longer has is closed (c2d-semantics.md 7.6 "a disabled device cannot use any device-facing endpoint").
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSasToken } from '@ferry/common';
import { createMqttGateway } from '../src/gateways/mqtt/index.js';
import type { Registry } from '../src/registry/types.js';
import { HOST, type RawClient, settle, startTestHub, subscribe, type TestHub, until } from './mqtt-helpers.js';

const NEW_KEY = Buffer.alloc(32, 7).toString('base64');
const OTHER_KEY = Buffer.alloc(32, 8).toString('base64');

async function setKeys(hub: TestHub, deviceId: string, keys: { primaryKey?: string; secondaryKey?: string }) {
  await hub.registry.update(deviceId, { authentication: { symmetricKey: keys } }, '*');
}

/** True while the connection answers a PINGREQ. */
async function alive(client: RawClient): Promise<boolean> {
  client.send({ cmd: 'pingreq' });
  try {
    await client.next('pingresp');
    return true;
  } catch {
    return false;
  }
}

async function connectionState(hub: TestHub, deviceId: string): Promise<string> {
  return (await hub.registry.get(deviceId)).connectionState;
}

describe('MQTT: a device disabled or deleted in the registry', () => {
  test('disabling closes its connection, returns in-flight messages, and re-enabling lets it receive again', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await subscribe(client, 'dev1');
    await hub.engine.send('dev1', { messageId: 'm1', body: Buffer.from('x') });
    await client.next('publish');
    assert.equal(await connectionState(hub, 'dev1'), 'Connected');

    await hub.registry.update('dev1', { status: 'disabled' }, '*');
    await client.waitClosed();
    await until(() => hub.gateway.connectionCount === 0, 'the connection is gone');
    assert.equal(hub.engine.released.length, 1, 'the unacknowledged message went back to the queue');
    assert.equal(await connectionState(hub, 'dev1'), 'Disconnected');
    assert.equal(await hub.engine.queueDepth('dev1'), 1);

    const refused = await hub.connect('dev1', key);
    assert.equal(refused.connack.returnCode, 3);

    await hub.registry.update('dev1', { status: 'enabled' }, '*');
    const again = await hub.connect('dev1', key);
    assert.equal(again.connack.returnCode, 0);
    const p = await again.client.next('publish');
    assert.equal(p.dup, true);
    assert.match(p.topic, /%24\.mid=m1&/);
  });

  test('deleting closes its connection and drops its stored session', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key, { clean: false });
    await subscribe(client, 'dev1');
    assert.equal((await hub.store.getMqttSession('dev1'))?.c2dQos, 1);

    await hub.registry.delete('dev1');
    await client.waitClosed();
    await until(() => hub.gateway.connectionCount === 0, 'the connection is gone');
    assert.equal(await hub.store.getMqttSession('dev1'), undefined);
    assert.equal((await hub.connect('dev1', key)).connack.returnCode, 5);

    const newKey = await hub.device('dev1');
    const fresh = await hub.connect('dev1', newKey, { clean: false });
    assert.equal(fresh.connack.sessionPresent, false, 'a re-created device does not resume the old session');
  });

  test('without a session store, the gateway forgets the session of a deleted device', async () => {
    const hub = await startTestHub({ sessions: false });
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key, { clean: false });
    await subscribe(client, 'dev1');
    await hub.registry.delete('dev1');
    await client.waitClosed();
    await settle();

    const newKey = await hub.device('dev1');
    const fresh = await hub.connect('dev1', newKey, { clean: false });
    assert.equal(fresh.connack.returnCode, 0);
    assert.equal(fresh.connack.sessionPresent, false);
  });

  test('a policy-token connection is closed too; other devices and unrelated updates are left alone', async () => {
    const hub = await startTestHub();
    const key1 = await hub.device('dev1');
    await hub.device('dev2');
    const policy = hub.registry.policy('device')!;
    const password = createSasToken({
      resourceUri: `${HOST}/devices/dev2`,
      key: policy.primaryKey,
      keyName: 'device',
      expiry: Math.floor(hub.clock.now() / 1000) + 3600,
    });
    const one = await hub.connect('dev1', key1);
    const two = await hub.connect('dev2', '', { password });
    assert.equal(two.connack.returnCode, 0);

    await hub.registry.update('dev2', { statusReason: 'maintenance soon' }, '*');
    await setKeys(hub, 'dev2', { primaryKey: NEW_KEY });
    assert.ok(await alive(two.client), 'a policy token does not depend on the device keys');

    await hub.registry.update('dev2', { status: 'disabled' }, '*');
    await two.client.waitClosed();
    assert.ok(await alive(one.client), 'another device keeps its connection');
    assert.equal(await connectionState(hub, 'dev1'), 'Connected');
  });

  test('a CONNECT being checked when the device is disabled is refused with CONNACK 3', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    // Hold CONNECT after its registry read, so the disable lands between that read and the claim.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let reads = 0;
    const registry = hub.registry;
    const gated = new Proxy(registry, {
      get(target, prop) {
        if (prop === 'identity') {
          return async (id: string) => {
            const identity = await target.identity(id);
            reads++;
            await gate;
            return identity;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as Registry;
    await hub.gateway.close();
    hub.gateway = createMqttGateway({ ...hub.ctx, registry: gated });

    const pending = hub.connect('dev1', key);
    await until(() => reads === 1, 'CONNECT read the identity');
    await hub.registry.update('dev1', { status: 'disabled' }, '*');
    open();
    const { client, connack } = await pending;
    assert.equal(connack.returnCode, 3);
    await client.waitClosed();
    await settle();
    assert.equal(client.packets.filter((p) => p.cmd === 'connack').length, 0, 'exactly one CONNACK');
    assert.equal(await connectionState(hub, 'dev1'), 'Disconnected');
    assert.equal(hub.gateway.connectionCount, 0);
  });
});

describe('MQTT: a device key regenerated in the registry', () => {
  test('closes a connection whose token was signed with the replaced key', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    await setKeys(hub, 'dev1', { primaryKey: NEW_KEY });
    await client.waitClosed();
    await until(() => hub.gateway.connectionCount === 0, 'the connection is gone');
    assert.equal(await connectionState(hub, 'dev1'), 'Disconnected');
    assert.equal((await hub.connect('dev1', key)).connack.returnCode, 5, 'the old key no longer works');
    assert.equal((await hub.connect('dev1', NEW_KEY)).connack.returnCode, 0);
  });

  test('keeps a connection whose key is still one of the device keys (other key changed, keys swapped)', async () => {
    const hub = await startTestHub();
    const primary = await hub.device('dev1');
    const secondary = (await hub.registry.identity('dev1'))!.secondaryKey!;
    const { client } = await hub.connect('dev1', secondary);

    await setKeys(hub, 'dev1', { primaryKey: NEW_KEY });
    assert.ok(await alive(client), 'the secondary key is unchanged');
    await setKeys(hub, 'dev1', { primaryKey: secondary, secondaryKey: NEW_KEY });
    assert.ok(await alive(client), 'the key moved to primary: still a device key');
    assert.notEqual(primary, secondary);

    await setKeys(hub, 'dev1', { primaryKey: OTHER_KEY });
    await client.waitClosed();
  });
});
