import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSasToken, isFerryError } from '@ferry/common';
import { SasAuthenticator } from '../src/auth/authenticator.js';
import { hubNameOf } from '../src/auth/hub-name.js';
import type { Operation, Permission, Principal } from '../src/auth/types.js';
import { ManualClock } from '../src/clock.js';
import type { DeviceIdentity, Registry, SharedAccessPolicy } from '../src/registry/types.js';

const K1 = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
const K2 = 'AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=';
const K3 = 'AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=';
const K4 = 'AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=';

/** Just the two lookups the authenticator uses. */
class FakeRegistry implements Pick<Registry, 'identity' | 'policy'> {
  devices = new Map<string, DeviceIdentity>();
  policies = new Map<string, SharedAccessPolicy>();

  addDevice(deviceId: string, status: 'enabled' | 'disabled' = 'enabled', keys: [string, string] = [K1, K2]): void {
    this.devices.set(deviceId, {
      deviceId,
      generationId: '1',
      status,
      authType: 'sas',
      primaryKey: keys[0],
      secondaryKey: keys[1],
      primaryThumbprint: null,
      secondaryThumbprint: null,
    });
  }
  addPolicy(keyName: string, rights: Permission[], keys: [string, string] = [K3, K4]): void {
    this.policies.set(keyName, { keyName, primaryKey: keys[0], secondaryKey: keys[1], rights });
  }
  async identity(deviceId: string): Promise<DeviceIdentity | undefined> {
    return this.devices.get(deviceId);
  }
  policy(keyName: string): SharedAccessPolicy | undefined {
    return this.policies.get(keyName);
  }
}

function setup(hosts: string[] = ['localhost', '127.0.0.2']) {
  const clock = new ManualClock(); // 2026-01-01T00:00:00Z
  const registry = new FakeRegistry();
  registry.addDevice('dev1');
  registry.addDevice('dev2', 'enabled', [K3, K4]);
  registry.addDevice('dev10');
  registry.addDevice('off', 'disabled');
  registry.addPolicy('iothubowner', ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect']);
  registry.addPolicy('service', ['ServiceConnect']);
  registry.addPolicy('device', ['DeviceConnect']);
  registry.addPolicy('registryRead', ['RegistryRead']);
  registry.addPolicy('registryReadWrite', ['RegistryWrite']);
  const auth = new SasAuthenticator({ registry, hosts, clock });
  const se = Math.floor(clock.now() / 1000) + 3600;
  /** A device-style token: sr encoded like the device SDK does. */
  const deviceToken = (resource: string, key = K1, expiry = se) =>
    createSasToken({ resourceUri: resource, key, expiry });
  /** A service-style token: raw sr, skn. */
  const policyToken = (resource: string, keyName: string, key = K3, expiry = se) =>
    createSasToken({ resourceUri: resource, key, keyName, expiry, encode: false });
  return { clock, registry, auth, se, deviceToken, policyToken };
}

async function rejects(p: Promise<unknown>, name: 'IotHubUnauthorizedAccess' | 'DeviceDisabled', message?: RegExp) {
  await assert.rejects(p, (err) => {
    assert.ok(isFerryError(err, name), `expected ${name}, got ${String(err)}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const DC = (deviceId: string): Operation => ({ permission: 'DeviceConnect', deviceId });

describe('SasAuthenticator.authenticate', () => {
  test('a good device token (sr localhost%2Fdevices%2Fdev1)', async () => {
    const { auth, deviceToken, se } = setup();
    const token = deviceToken('localhost/devices/dev1');
    assert.match(token, /sr=localhost%2Fdevices%2Fdev1&/);
    const p = await auth.authenticate(token);
    assert.deepEqual(p, { kind: 'device', deviceId: 'dev1', expiresAt: se * 1000 + 300_000 });
  });

  test('a device token with a port in sr', async () => {
    const { auth, deviceToken } = setup();
    const p = await auth.authenticate(deviceToken('localhost:18883/devices/dev1'));
    assert.equal(p.kind === 'device' && p.deviceId, 'dev1');
  });

  test('a good service token, sr the raw host', async () => {
    const { auth, policyToken, se } = setup();
    const p = await auth.authenticate(policyToken('localhost', 'iothubowner'));
    assert.equal(p.kind, 'policy');
    assert.ok(p.kind === 'policy');
    assert.equal(p.policyName, 'iothubowner');
    assert.equal(p.scope, '');
    assert.equal(p.expiresAt, se * 1000 + 300_000);
    assert.deepEqual([...p.permissions].sort(), ['DeviceConnect', 'RegistryRead', 'RegistryWrite', 'ServiceConnect']);
  });

  test('a service token with a port, an IP host, and a host in another case', async () => {
    const { auth, policyToken } = setup();
    for (const sr of ['localhost:25671', '127.0.0.2:5671', 'LocalHost', '127.0.0.2']) {
      const p = await auth.authenticate(policyToken(sr, 'service'));
      assert.equal(p.kind === 'policy' && p.policyName, 'service', sr);
    }
  });

  test('hosts configured with a port or in brackets still match', async () => {
    const { registry, clock, se } = setup();
    const auth = new SasAuthenticator({ registry, clock, hosts: ['MyHub.example.com:443', '[::1]'] });
    const t1 = createSasToken({
      resourceUri: 'myhub.example.com',
      key: K3,
      keyName: 'service',
      expiry: se,
      encode: false,
    });
    const t2 = createSasToken({ resourceUri: '[::1]:8883/devices/dev1', key: K1, expiry: se });
    assert.equal((await auth.authenticate(t1)).kind, 'policy');
    assert.equal((await auth.authenticate(t2)).kind, 'device');
  });

  test('a token made by the official device SDK scheme verifies', async () => {
    const { createRequire } = await import('node:module');
    const azure = createRequire(import.meta.url)('azure-iot-common') as typeof import('azure-iot-common');
    const { auth, se } = setup();
    const sr = azure.encodeUriComponentStrict('localhost/devices/dev1');
    const token = azure.SharedAccessSignature.create(sr, undefined as unknown as string, K1, se).toString();
    assert.equal((await auth.authenticate(token)).kind, 'device');
    const svc = azure.SharedAccessSignature.create('localhost', 'service', K3, se).toString();
    assert.equal((await auth.authenticate(svc)).kind, 'policy');
  });

  test('the secondary key is accepted, for a device and for a policy', async () => {
    const { auth, deviceToken, policyToken } = setup();
    assert.equal((await auth.authenticate(deviceToken('localhost/devices/dev1', K2))).kind, 'device');
    assert.equal((await auth.authenticate(policyToken('localhost', 'service', K4))).kind, 'policy');
  });

  test('a wrong signature is refused', async () => {
    const { auth, deviceToken, policyToken } = setup();
    // dev1's keys are K1/K2; K3 is dev2's and the policies' key.
    await rejects(
      auth.authenticate(deviceToken('localhost/devices/dev1', K3)),
      'IotHubUnauthorizedAccess',
      /signature/,
    );
    await rejects(auth.authenticate(policyToken('localhost', 'service', K1)), 'IotHubUnauthorizedAccess', /signature/);
    // A valid token with a tampered expiry.
    const tampered = deviceToken('localhost/devices/dev1').replace(/se=(\d+)$/, (_, s) => `se=${Number(s) + 60}`);
    await rejects(auth.authenticate(tampered), 'IotHubUnauthorizedAccess', /signature/);
  });

  test('expiry honours the 5-minute skew', async () => {
    const { auth, clock, deviceToken, se } = setup();
    const token = deviceToken('localhost/devices/dev1');
    clock.advance(se * 1000 - clock.now() + 300_000); // exactly se + 5 min: still valid
    assert.equal((await auth.authenticate(token)).kind, 'device');
    clock.advance(1);
    await rejects(auth.authenticate(token), 'IotHubUnauthorizedAccess', /expired/);
  });

  test('an expired token says it expired even for a policy', async () => {
    const { auth, policyToken, clock } = setup();
    const se = Math.floor(clock.now() / 1000) - 301;
    await rejects(
      auth.authenticate(policyToken('localhost', 'service', K3, se)),
      'IotHubUnauthorizedAccess',
      /expired/,
    );
  });

  test('a disabled device is refused with DeviceDisabled, but only with a good signature', async () => {
    const { auth, deviceToken } = setup();
    await rejects(auth.authenticate(deviceToken('localhost/devices/off')), 'DeviceDisabled');
    await rejects(auth.authenticate(deviceToken('localhost/devices/off', K3)), 'IotHubUnauthorizedAccess');
  });

  test('an unknown device is refused', async () => {
    const { auth, deviceToken } = setup();
    await rejects(
      auth.authenticate(deviceToken('localhost/devices/ghost')),
      'IotHubUnauthorizedAccess',
      /not registered/,
    );
  });

  test('an unknown policy is refused', async () => {
    const { auth, policyToken } = setup();
    await rejects(auth.authenticate(policyToken('localhost', 'nobody')), 'IotHubUnauthorizedAccess', /nobody/);
  });

  test('a token for another host is refused', async () => {
    const { auth, deviceToken, policyToken } = setup();
    await rejects(auth.authenticate(deviceToken('otherhub/devices/dev1')), 'IotHubUnauthorizedAccess', /otherhub/);
    await rejects(auth.authenticate(policyToken('localhost.evil.com', 'service')), 'IotHubUnauthorizedAccess');
    await rejects(auth.authenticate(policyToken('127.0.0.3:5671', 'service')), 'IotHubUnauthorizedAccess');
  });

  test('a device-key token must name one device', async () => {
    const { auth, deviceToken } = setup();
    for (const sr of ['localhost', 'localhost/devices', 'localhost/devices/dev1/modules/m1', 'localhost/messages']) {
      await rejects(auth.authenticate(deviceToken(sr)), 'IotHubUnauthorizedAccess', /devices\/\{deviceId\}/);
    }
  });

  test('malformed tokens are refused', async () => {
    const { auth } = setup();
    for (const t of ['', 'garbage', 'SharedAccessSignature sr=localhost&se=1']) {
      await rejects(auth.authenticate(t), 'IotHubUnauthorizedAccess');
    }
  });

  test('a doubly encoded device id (C# SDK style) finds its device', async () => {
    const { auth, registry, se } = setup();
    registry.addDevice('a b');
    const sr = encodeURIComponent(`localhost/devices/${encodeURIComponent('a b')}`);
    const token = createSasToken({ resourceUri: sr, key: K1, expiry: se, encode: false });
    const p = await auth.authenticate(token);
    assert.equal(p.kind === 'device' && p.deviceId, 'a b');
  });
});

describe('SasAuthenticator.authorize and can', () => {
  async function principal(kind: 'device' | 'policy', sr: string, keyName?: string): Promise<Principal> {
    const { auth, deviceToken, policyToken } = ctx;
    return auth.authenticate(kind === 'device' ? deviceToken(sr) : policyToken(sr, keyName!));
  }
  const ctx = setup();
  const { auth } = ctx;

  function allowed(p: Principal, op: Operation, want: boolean) {
    assert.equal(auth.can(p, op), want, JSON.stringify(op));
    if (want) auth.authorize(p, op);
    else {
      assert.throws(
        () => auth.authorize(p, op),
        (err) => isFerryError(err, 'IotHubUnauthorizedAccess'),
      );
    }
  }

  test("a device may act as itself only, not with another device's token", async () => {
    const dev1 = await principal('device', 'localhost/devices/dev1');
    allowed(dev1, DC('dev1'), true);
    allowed(dev1, DC('dev2'), false);
    allowed(dev1, DC('DEV1'), false); // device ids are case-sensitive
    allowed(dev1, { permission: 'ServiceConnect' }, false);
    allowed(dev1, { permission: 'RegistryRead' }, false);
  });

  test('iothubowner on the whole hub may do everything', async () => {
    const owner = await principal('policy', 'localhost', 'iothubowner');
    for (const permission of ['RegistryRead', 'RegistryWrite', 'ServiceConnect'] as const) {
      allowed(owner, { permission }, true);
    }
    allowed(owner, DC('dev1'), true);
  });

  test('a policy lacking the permission is refused', async () => {
    const service = await principal('policy', 'localhost', 'service');
    allowed(service, { permission: 'ServiceConnect' }, true);
    allowed(service, { permission: 'RegistryRead' }, false);
    allowed(service, DC('dev1'), false);
    const read = await principal('policy', 'localhost', 'registryRead');
    allowed(read, { permission: 'RegistryRead' }, true);
    allowed(read, { permission: 'RegistryWrite' }, false);
    allowed(read, { permission: 'ServiceConnect' }, false);
    const device = await principal('policy', 'localhost', 'device');
    allowed(device, { permission: 'ServiceConnect' }, false);
    allowed(device, DC('anything'), true);
  });

  test('RegistryWrite implies RegistryRead', async () => {
    const rw = await principal('policy', 'localhost', 'registryReadWrite');
    allowed(rw, { permission: 'RegistryWrite' }, true);
    allowed(rw, { permission: 'RegistryRead' }, true);
  });

  test('a DeviceConnect policy scope matches by segment', async () => {
    const one = await principal('policy', 'localhost/devices/dev1', 'device');
    allowed(one, DC('dev1'), true);
    allowed(one, DC('dev10'), false);
    allowed(one, DC('dev2'), false);
    const all = await principal('policy', 'localhost/devices', 'device');
    allowed(all, DC('dev10'), true);
    allowed(all, DC('anyone'), true);
    const trailing = await principal('policy', 'localhost/', 'device');
    allowed(trailing, DC('dev1'), true);
  });

  test('hub-level permissions need a scope that covers their endpoint', async () => {
    const scoped = await principal('policy', 'localhost/devices/dev1', 'iothubowner');
    allowed(scoped, { permission: 'RegistryRead' }, false);
    allowed(scoped, { permission: 'ServiceConnect' }, false);
    allowed(scoped, DC('dev1'), true);
    const devices = await principal('policy', 'localhost/devices', 'iothubowner');
    allowed(devices, { permission: 'RegistryWrite' }, true);
    allowed(devices, { permission: 'ServiceConnect' }, false);
    const messages = await principal('policy', 'localhost/messages', 'iothubowner');
    allowed(messages, { permission: 'ServiceConnect' }, true);
    allowed(messages, { permission: 'RegistryRead' }, false);
    allowed(messages, DC('dev1'), false);
  });

  test('nothing is allowed once the token has expired', async () => {
    const local = setup();
    const p = await local.auth.authenticate(local.deviceToken('localhost/devices/dev1'));
    local.clock.advance(3600_000 + 300_000);
    assert.equal(local.auth.can(p, DC('dev1')), true);
    local.clock.advance(1);
    assert.equal(local.auth.can(p, DC('dev1')), false);
    assert.throws(() => local.auth.authorize(p, DC('dev1')), /expired/);
  });
});

describe('hubNameOf', () => {
  const cases: Array<[string, string]> = [
    ['myhub.azure-devices.net', 'myhub'],
    ['localhost', 'localhost'],
    ['localhost:8883', 'localhost'],
    ['MyHub.example.com:443', 'MyHub'],
    ['127.0.0.2', '127.0.0.2'],
    ['127.0.0.2:5671', '127.0.0.2'],
    ['::1', '::1'],
    ['[::1]:5671', '::1'],
    ['[fe80::1]', 'fe80::1'],
  ];
  for (const [host, name] of cases) test(`${host} -> ${name}`, () => assert.equal(hubNameOf(host), name));
});
