import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ErrorName, isFerryError } from '@ferry/common';
import { ManualClock } from '../src/clock.js';
import { NEVER } from '../src/registry/device-json.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import { FakeRegistryStore } from './registry-fake-store.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

async function setup() {
  const store = new FakeRegistryStore();
  const clock = new ManualClock();
  const depths = new Map<string, number>();
  const engine = { queueDepth: async (id: string) => depths.get(id) ?? 0 };
  const registry = new DeviceRegistry({ store, engine, clock });
  await registry.init();
  return { store, clock, depths, registry };
}

async function rejectsWith(p: Promise<unknown>, name: ErrorName): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isFerryError(err, name), `expected ${name}, got ${String(err)}`);
    return true;
  });
}

describe('DeviceRegistry policies', () => {
  test('init creates the five default policies with 32-byte keys and the right rights', async () => {
    const { registry } = await setup();
    const names = registry
      .policies()
      .map((p) => p.keyName)
      .sort();
    assert.deepEqual(names, ['device', 'iothubowner', 'registryRead', 'registryReadWrite', 'service']);
    assert.deepEqual(registry.policy('iothubowner')?.rights, [
      'RegistryRead',
      'RegistryWrite',
      'ServiceConnect',
      'DeviceConnect',
    ]);
    assert.deepEqual(registry.policy('service')?.rights, ['ServiceConnect']);
    assert.deepEqual(registry.policy('device')?.rights, ['DeviceConnect']);
    assert.deepEqual(registry.policy('registryRead')?.rights, ['RegistryRead']);
    assert.deepEqual(registry.policy('registryReadWrite')?.rights, ['RegistryRead', 'RegistryWrite']);
    for (const p of registry.policies()) {
      assert.equal(Buffer.from(p.primaryKey, 'base64').length, 32);
      assert.equal(Buffer.from(p.secondaryKey, 'base64').length, 32);
      assert.notEqual(p.primaryKey, p.secondaryKey);
    }
    assert.equal(registry.policy('nope'), undefined);
  });

  test('a second start keeps the stored keys', async () => {
    const { store, clock, registry } = await setup();
    const before = registry.policy('service')?.primaryKey;
    const again = new DeviceRegistry({ store, engine: { queueDepth: async () => 0 }, clock });
    await again.init();
    assert.equal(again.policy('service')?.primaryKey, before);
    assert.equal(store.ensureCalls, 1);
  });

  test('only missing default policies are added', async () => {
    const store = new FakeRegistryStore();
    await store.ensurePolicies([
      { keyName: 'service', primaryKey: KEY_A, secondaryKey: KEY_B, rights: ['ServiceConnect'] },
    ]);
    const registry = new DeviceRegistry({ store, engine: { queueDepth: async () => 0 }, clock: new ManualClock() });
    await registry.init();
    assert.equal(registry.policy('service')?.primaryKey, KEY_A);
    assert.equal(registry.policies().length, 5);
  });
});

describe('DeviceRegistry create', () => {
  test('generates keys, ids and the Azure shape', async () => {
    const { registry, depths } = await setup();
    depths.set('dev1', 3);
    const d = await registry.create({
      deviceId: 'dev1',
      authentication: { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } },
    });
    assert.equal(d.deviceId, 'dev1');
    assert.match(d.generationId, /^\d{18}$/);
    assert.ok(d.etag.length > 0);
    assert.equal(d.status, 'enabled');
    assert.equal(d.statusReason, null);
    assert.equal(d.connectionState, 'Disconnected');
    assert.equal(d.connectionStateUpdatedTime, NEVER);
    assert.equal(d.lastActivityTime, NEVER);
    assert.equal(d.statusUpdatedTime, NEVER);
    assert.equal(d.cloudToDeviceMessageCount, 3);
    assert.equal(d.authentication.type, 'sas');
    assert.equal(Buffer.from(d.authentication.symmetricKey.primaryKey ?? '', 'base64').length, 32);
    assert.equal(Buffer.from(d.authentication.symmetricKey.secondaryKey ?? '', 'base64').length, 32);
    assert.deepEqual(d.authentication.x509Thumbprint, { primaryThumbprint: null, secondaryThumbprint: null });
    assert.deepEqual(d.capabilities, { iotEdge: false });
  });

  test('a body without authentication gets sas keys', async () => {
    const { registry } = await setup();
    const d = await registry.create({ deviceId: 'bare' });
    assert.equal(d.authentication.type, 'sas');
    assert.ok(d.authentication.symmetricKey.primaryKey);
  });

  test('given keys are kept; status and reason are taken', async () => {
    const { registry } = await setup();
    const d = await registry.create({
      deviceId: 'd2',
      status: 'Disabled',
      statusReason: 'maintenance',
      authentication: { symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } },
    });
    assert.equal(d.authentication.symmetricKey.primaryKey, KEY_A);
    assert.equal(d.authentication.symmetricKey.secondaryKey, KEY_B);
    assert.equal(d.status, 'disabled');
    assert.equal(d.statusReason, 'maintenance');
  });

  test('re-creating a deleted id gives a new generationId', async () => {
    const { registry } = await setup();
    const a = await registry.create({ deviceId: 'again' });
    await registry.delete('again');
    const b = await registry.create({ deviceId: 'again' });
    assert.notEqual(a.generationId, b.generationId);
  });

  test('create over an existing id is DeviceAlreadyExists', async () => {
    const { registry } = await setup();
    await registry.create({ deviceId: 'dup' });
    await rejectsWith(registry.create({ deviceId: 'dup' }), 'DeviceAlreadyExists');
  });

  test('deviceId rules', async () => {
    const { registry } = await setup();
    const ok = "a-:.+%_#*?!(),=@;$'Z9";
    assert.equal((await registry.create({ deviceId: ok })).deviceId, ok);
    assert.equal((await registry.create({ deviceId: 'x'.repeat(128) })).deviceId.length, 128);
    for (const bad of ['', 'x'.repeat(129), 'a b', 'a/b', 'ä', 'a&b', 'a\nb', 42, null]) {
      await rejectsWith(registry.create({ deviceId: bad }), 'ArgumentInvalid');
    }
    await rejectsWith(registry.create({}), 'ArgumentInvalid');
  });

  test('bad bodies are ArgumentInvalid', async () => {
    const { registry } = await setup();
    const bodies: unknown[] = [
      null,
      'dev',
      [],
      { deviceId: 'd', status: 'paused' },
      { deviceId: 'd', statusReason: 'r'.repeat(129) },
      { deviceId: 'd', authentication: 'sas' },
      { deviceId: 'd', authentication: { type: 'kerberos' } },
      { deviceId: 'd', authentication: { symmetricKey: { primaryKey: 'not base64!' } } },
      { deviceId: 'd', authentication: { symmetricKey: { primaryKey: Buffer.alloc(8).toString('base64') } } },
      { deviceId: 'd', authentication: { symmetricKey: { secondaryKey: Buffer.alloc(65).toString('base64') } } },
      { deviceId: 'd', authentication: { symmetricKey: { primaryKey: 7 } } },
      { deviceId: 'd', authentication: { type: 'selfSigned' } },
      { deviceId: 'd', capabilities: { iotEdge: 'yes' } },
    ];
    for (const b of bodies) await rejectsWith(registry.create(b), 'ArgumentInvalid');
    assert.equal((await registry.statistics()).totalDeviceCount, 0);
  });

  test('16- and 64-byte keys are accepted', async () => {
    const { registry } = await setup();
    const k16 = Buffer.alloc(16, 7).toString('base64');
    const k64 = Buffer.alloc(64, 7).toString('base64');
    const d = await registry.create({
      deviceId: 'k',
      authentication: { symmetricKey: { primaryKey: k16, secondaryKey: k64 } },
    });
    assert.equal(d.authentication.symmetricKey.primaryKey, k16);
    assert.equal(d.authentication.symmetricKey.secondaryKey, k64);
  });

  test('selfSigned devices keep thumbprints and have no keys', async () => {
    const { registry } = await setup();
    const d = await registry.create({
      deviceId: 'x509',
      authentication: {
        type: 'selfSigned',
        x509Thumbprint: { primaryThumbprint: 'ab'.repeat(20), secondaryThumbprint: null },
      },
    });
    assert.equal(d.authentication.type, 'selfSigned');
    assert.equal(d.authentication.symmetricKey.primaryKey, null);
    assert.equal(d.authentication.x509Thumbprint.primaryThumbprint, 'AB'.repeat(20));
  });
});

describe('DeviceRegistry update', () => {
  test('If-Match "*" updates; empty keys keep the stored keys; the etag changes', async () => {
    const { registry, clock } = await setup();
    const created = await registry.create({ deviceId: 'u1' });
    clock.advance(1000);
    const updated = await registry.update(
      'u1',
      {
        deviceId: 'u1',
        status: 'disabled',
        statusReason: 'lost',
        authentication: { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } },
      },
      '"*"',
    );
    assert.equal(updated.status, 'disabled');
    assert.equal(updated.statusReason, 'lost');
    assert.equal(updated.statusUpdatedTime, new Date(clock.now()).toISOString());
    assert.equal(updated.authentication.symmetricKey.primaryKey, created.authentication.symmetricKey.primaryKey);
    assert.equal(updated.authentication.symmetricKey.secondaryKey, created.authentication.symmetricKey.secondaryKey);
    assert.equal(updated.generationId, created.generationId);
    assert.notEqual(updated.etag, created.etag);
    assert.equal((await registry.identity('u1'))?.status, 'disabled');
  });

  test('the etag matches quoted, unquoted, weak or bare *', async () => {
    const { registry } = await setup();
    let d = await registry.create({ deviceId: 'u2' });
    for (const form of [(e: string) => `"${e}"`, (e: string) => e, (e: string) => `W/"${e}"`]) {
      d = await registry.update('u2', { deviceId: 'u2' }, form(d.etag));
    }
    d = await registry.update('u2', { deviceId: 'u2' }, '*');
    assert.equal(d.deviceId, 'u2');
  });

  test('a stale etag is PreconditionFailed and changes nothing', async () => {
    const { registry } = await setup();
    const d = await registry.create({ deviceId: 'u3' });
    await registry.update('u3', { status: 'disabled' }, '*');
    await rejectsWith(registry.update('u3', { status: 'enabled' }, `"${d.etag}"`), 'PreconditionFailed');
    assert.equal((await registry.get('u3')).status, 'disabled');
  });

  test('new keys replace old ones', async () => {
    const { registry } = await setup();
    await registry.create({ deviceId: 'u4' });
    const d = await registry.update(
      'u4',
      { authentication: { symmetricKey: { primaryKey: KEY_A, secondaryKey: '' } } },
      '*',
    );
    assert.equal(d.authentication.symmetricKey.primaryKey, KEY_A);
    assert.equal((await registry.identity('u4'))?.primaryKey, KEY_A);
  });

  test('unknown device is DeviceNotFound; a different body deviceId is ArgumentInvalid', async () => {
    const { registry } = await setup();
    await rejectsWith(registry.update('ghost', { deviceId: 'ghost' }, '*'), 'DeviceNotFound');
    await registry.create({ deviceId: 'u5' });
    await rejectsWith(registry.update('u5', { deviceId: 'other' }, '*'), 'ArgumentInvalid');
  });

  test('an unconditional update retries over a concurrent write', async () => {
    const { registry, store } = await setup();
    await registry.create({ deviceId: 'race' });
    const original = store.replaceDevice.bind(store);
    let first = true;
    store.replaceDevice = async (device, expected) => {
      if (first) {
        first = false;
        const cur = store.devices.get('race')!;
        store.devices.set('race', { ...cur, etag: 'changed-elsewhere' });
      }
      return original(device, expected);
    };
    const d = await registry.update('race', { statusReason: 'retry' }, '*');
    assert.equal(d.statusReason, 'retry');
  });
});

describe('DeviceRegistry get, list, delete, statistics', () => {
  test('get of an unknown device is DeviceNotFound', async () => {
    const { registry } = await setup();
    await rejectsWith(registry.get('nobody'), 'DeviceNotFound');
    assert.equal(await registry.identity('nobody'), undefined);
  });

  test('list honours top in 1..1000, else 1000', async () => {
    const { registry } = await setup();
    for (let i = 0; i < 5; i++) await registry.create({ deviceId: `l${i}` });
    assert.equal((await registry.list(2)).length, 2);
    assert.equal((await registry.list()).length, 5);
    assert.equal((await registry.list(0)).length, 5);
    assert.equal((await registry.list(5000)).length, 5);
    assert.equal((await registry.list(1.5)).length, 5);
    assert.equal((await registry.list(Number.NaN)).length, 5);
  });

  test('delete with a matching or * etag; a stale one is PreconditionFailed; unknown is DeviceNotFound', async () => {
    const { registry } = await setup();
    const d = await registry.create({ deviceId: 'del' });
    await rejectsWith(registry.delete('del', '"stale"'), 'PreconditionFailed');
    await registry.delete('del', `"${d.etag}"`);
    await rejectsWith(registry.get('del'), 'DeviceNotFound');
    await rejectsWith(registry.delete('del', '*'), 'DeviceNotFound');
    await registry.create({ deviceId: 'del2' });
    await registry.delete('del2', '"*"');
    await registry.create({ deviceId: 'del3' });
    await registry.delete('del3');
    assert.equal((await registry.statistics()).totalDeviceCount, 0);
  });

  test('statistics counts enabled and disabled devices', async () => {
    const { registry } = await setup();
    await registry.create({ deviceId: 's1' });
    await registry.create({ deviceId: 's2', status: 'disabled' });
    await registry.create({ deviceId: 's3' });
    assert.deepEqual(await registry.statistics(), {
      totalDeviceCount: 3,
      enabledDeviceCount: 2,
      disabledDeviceCount: 1,
    });
  });

  test('connection state and last activity are live', async () => {
    const { registry, clock } = await setup();
    await registry.create({ deviceId: 'c1' });
    clock.advance(5000);
    const t1 = new Date(clock.now()).toISOString();
    registry.setConnectionState('c1', 'Connected');
    let d = await registry.get('c1');
    assert.equal(d.connectionState, 'Connected');
    assert.equal(d.connectionStateUpdatedTime, t1);
    assert.equal(d.lastActivityTime, t1);
    clock.advance(1000);
    registry.touch('c1');
    const t2 = new Date(clock.now()).toISOString();
    clock.advance(1000);
    registry.setConnectionState('c1', 'Disconnected');
    d = await registry.get('c1');
    assert.equal(d.connectionState, 'Disconnected');
    assert.equal(d.connectionStateUpdatedTime, new Date(clock.now()).toISOString());
    assert.equal(d.lastActivityTime, t2);
  });

  test('touch before any connection sets only lastActivityTime', async () => {
    const { registry, clock } = await setup();
    await registry.create({ deviceId: 'c2' });
    registry.touch('c2');
    const d = await registry.get('c2');
    assert.equal(d.lastActivityTime, new Date(clock.now()).toISOString());
    assert.equal(d.connectionStateUpdatedTime, NEVER);
  });
});
