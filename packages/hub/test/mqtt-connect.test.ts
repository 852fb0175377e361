import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createSasToken } from '@ferry/common';
import { HOST, settle, startTestHub, until } from './mqtt-helpers.js';

describe('MQTT CONNECT', () => {
  test('a device key token gets CONNACK 0, no session yet, and the registry shows the device connected', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client, connack } = await hub.connect('dev1', key);
    assert.equal(connack.returnCode, 0);
    assert.equal(connack.sessionPresent, false);
    assert.equal((await hub.registry.get('dev1')).connectionState, 'Connected');
    assert.equal(hub.gateway.connectionCount, 1);
    client.send({ cmd: 'disconnect' });
    await client.waitClosed();
    await until(() => hub.gateway.connectionCount === 0, 'connection forgotten');
    assert.equal((await hub.registry.get('dev1')).connectionState, 'Disconnected');
  });

  test('the username host matches with or without a port and in any case; the query is ignored', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    for (const username of [
      `${HOST}:8883/dev1/?api-version=2021-04-12`,
      'FERRY.test/dev1/',
      `${HOST}/dev1`,
      `${HOST}/dev1/?x=1&y=%2F`,
    ]) {
      const { client, connack } = await hub.connect('dev1', key, { username });
      assert.equal(connack.returnCode, 0, username);
      client.send({ cmd: 'disconnect' });
      await client.waitClosed();
    }
  });

  test('a shared access policy with DeviceConnect scoped to the device may connect as it', async () => {
    const hub = await startTestHub();
    await hub.device('dev1');
    const policy = hub.registry.policy('device')!;
    const expiry = Math.floor(hub.clock.now() / 1000) + 3600;
    for (const resourceUri of [HOST, `${HOST}/devices/dev1`]) {
      const password = createSasToken({ resourceUri, key: policy.primaryKey, keyName: 'device', expiry });
      const { client, connack } = await hub.connect('dev1', '', { password });
      assert.equal(connack.returnCode, 0, resourceUri);
      client.end();
      await client.waitClosed();
    }
  });

  describe('CONNACK 4: malformed username or password', () => {
    const cases: Array<[string, { username?: string; password?: string | undefined }]> = [
      ['no password', { password: undefined }],
      ['empty password', { password: '' }],
      ['username of another device', { username: `${HOST}/dev2/?api-version=2021-04-12` }],
      ['username without a device', { username: HOST }],
      ['username naming another hub', { username: 'other.example/dev1/?api-version=2021-04-12' }],
      ['username with a device id that only starts like the client id', { username: `${HOST}/dev1x/?api-version=1` }],
    ];
    for (const [name, o] of cases) {
      test(name, async () => {
        const hub = await startTestHub();
        const key = await hub.device('dev1');
        const { client, connack } = await hub.connect('dev1', key, o);
        assert.equal(connack.returnCode, 4);
        assert.equal(connack.sessionPresent, false);
        await client.waitClosed();
      });
    }
  });

  describe('CONNACK 5: bad or expired token, wrong device', () => {
    test('a signature made with the wrong key', async () => {
      const hub = await startTestHub();
      await hub.device('dev1');
      const { client, connack } = await hub.connect('dev1', Buffer.alloc(32, 7).toString('base64'));
      assert.equal(connack.returnCode, 5);
      await client.waitClosed();
    });

    test('an expired token', async () => {
      const hub = await startTestHub();
      const key = await hub.device('dev1');
      const password = hub.token('dev1', key, Math.floor(hub.clock.now() / 1000) - 3600);
      const { client, connack } = await hub.connect('dev1', key, { password });
      assert.equal(connack.returnCode, 5);
      await client.waitClosed();
    });

    test('a token that is not a SAS token at all', async () => {
      const hub = await startTestHub();
      const key = await hub.device('dev1');
      const { client, connack } = await hub.connect('dev1', key, { password: 'hunter2' });
      assert.equal(connack.returnCode, 5);
      await client.waitClosed();
    });

    test("another device's valid token", async () => {
      const hub = await startTestHub();
      await hub.device('dev1');
      const key2 = await hub.device('dev2');
      const { client, connack } = await hub.connect('dev1', key2, { password: hub.token('dev2', key2) });
      assert.equal(connack.returnCode, 5);
      await client.waitClosed();
    });

    test('a policy without DeviceConnect, or scoped to another device', async () => {
      const hub = await startTestHub();
      await hub.device('dev1');
      const expiry = Math.floor(hub.clock.now() / 1000) + 3600;
      const service = hub.registry.policy('service')!;
      const device = hub.registry.policy('device')!;
      for (const password of [
        createSasToken({ resourceUri: HOST, key: service.primaryKey, keyName: 'service', expiry }),
        createSasToken({ resourceUri: `${HOST}/devices/dev2`, key: device.primaryKey, keyName: 'device', expiry }),
      ]) {
        const { client, connack } = await hub.connect('dev1', '', { password });
        assert.equal(connack.returnCode, 5);
        await client.waitClosed();
      }
    });

    test('a policy token for a device that is not registered', async () => {
      const hub = await startTestHub();
      const device = hub.registry.policy('device')!;
      const password = createSasToken({
        resourceUri: HOST,
        key: device.primaryKey,
        keyName: 'device',
        expiry: Math.floor(hub.clock.now() / 1000) + 60,
      });
      const { client, connack } = await hub.connect('ghost', '', { password });
      assert.equal(connack.returnCode, 5);
      await client.waitClosed();
    });
  });

  describe('CONNACK 3: disabled device', () => {
    test('with its own key (the authenticator refuses it)', async () => {
      const hub = await startTestHub();
      const key = await hub.device('dev1', 'disabled');
      const { client, connack } = await hub.connect('dev1', key);
      assert.equal(connack.returnCode, 3);
      await client.waitClosed();
    });

    test('with a policy token (the registry says disabled)', async () => {
      const hub = await startTestHub();
      await hub.device('dev1', 'disabled');
      const device = hub.registry.policy('device')!;
      const password = createSasToken({
        resourceUri: HOST,
        key: device.primaryKey,
        keyName: 'device',
        expiry: Math.floor(hub.clock.now() / 1000) + 60,
      });
      const { client, connack } = await hub.connect('dev1', '', { password });
      assert.equal(connack.returnCode, 3);
      await client.waitClosed();
    });
  });

  test('CONNACK 1 for MQTT 3.1 and MQTT 5', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    for (const [protocolId, protocolVersion] of [
      ['MQIsdp', 3],
      ['MQTT', 5],
    ] as const) {
      const client = hub.open();
      client.send({
        cmd: 'connect',
        protocolId,
        protocolVersion,
        clientId: 'dev1',
        clean: false,
        keepalive: 60,
        username: `${HOST}/dev1/`,
        password: Buffer.from(hub.token('dev1', key)),
      });
      await until(() => client.received.length > 0 || client.isClosed, 'an answer');
      // The CONNACK is written in 3.1.1 form; its return code is the last byte.
      const bytes = Buffer.concat(client.received);
      assert.equal(bytes[0], 0x20);
      assert.equal(bytes[bytes.length - 1], 1);
      await client.waitClosed();
    }
  });

  test('CONNACK 2 for an empty client id', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const client = hub.open();
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: '',
      clean: true,
      keepalive: 60,
      username: `${HOST}/dev1/`,
      password: Buffer.from(hub.token('dev1', key)),
    });
    assert.equal((await client.next('connack')).returnCode, 2);
    await client.waitClosed();
  });

  test('a first packet other than CONNECT closes the connection without an answer', async () => {
    const hub = await startTestHub();
    const client = hub.open();
    client.send({ cmd: 'pingreq' });
    await client.waitClosed();
    assert.equal(client.packets.length, 0);
  });

  test('a second CONNECT closes the connection', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key);
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'dev1',
      clean: false,
      keepalive: 60,
      username: `${HOST}/dev1/`,
      password: Buffer.from(hub.token('dev1', key)),
    });
    await client.waitClosed();
    assert.equal(client.packets.filter((p) => p.cmd === 'connack').length, 0);
  });

  test('no CONNECT within 30 s closes the connection', async () => {
    const hub = await startTestHub();
    const client = hub.open();
    hub.clock.advance(29_999);
    await settle();
    assert.equal(client.isClosed, false);
    hub.clock.advance(1);
    await client.waitClosed();
  });

  test('a second connection of the same device takes over; the first is closed', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const first = await hub.connect('dev1', key);
    const second = await hub.connect('dev1', key);
    assert.equal(second.connack.returnCode, 0);
    await first.client.waitClosed();
    await settle();
    assert.equal(second.client.isClosed, false);
    assert.equal(hub.gateway.connectionCount, 1);
    assert.equal((await hub.registry.get('dev1')).connectionState, 'Connected');
    second.client.send({ cmd: 'pingreq' });
    await second.client.next('pingresp');
  });

  test('mqtt.maxConnections refuses further devices with CONNACK 3 but lets a device replace its own connection', async () => {
    const hub = await startTestHub({ mqtt: { maxConnections: 1 } });
    const k1 = await hub.device('dev1');
    const k2 = await hub.device('dev2');
    const a = await hub.connect('dev1', k1);
    assert.equal(a.connack.returnCode, 0);
    const b = await hub.connect('dev2', k2);
    assert.equal(b.connack.returnCode, 3);
    await b.client.waitClosed();
    const c = await hub.connect('dev1', k1);
    assert.equal(c.connack.returnCode, 0);
    await a.client.waitClosed();
  });
});

describe('MQTT keep-alive', () => {
  test('silence longer than 1.5 x keep-alive closes the connection', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key, { keepalive: 10 });
    hub.clock.advance(14_999);
    await settle();
    assert.equal(client.isClosed, false);
    hub.clock.advance(1);
    await client.waitClosed();
    assert.equal((await hub.registry.get('dev1')).connectionState, 'Disconnected');
  });

  test('any packet restarts the silence count', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key, { keepalive: 10 });
    hub.clock.advance(10_000);
    client.send({ cmd: 'pingreq' });
    await client.next('pingresp');
    hub.clock.advance(14_999);
    await settle();
    assert.equal(client.isClosed, false);
    hub.clock.advance(1);
    await client.waitClosed();
  });

  test('the timeout is capped at 1767 s', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const { client } = await hub.connect('dev1', key, { keepalive: 65535 });
    hub.clock.advance(1_766_999);
    await settle();
    assert.equal(client.isClosed, false);
    hub.clock.advance(1);
    await client.waitClosed();
  });

  // Regression (issue 7): keep-alive 0 meant no timeout, so a client that stopped reading stayed for good.
  test("keep-alive 0 gets IoT Hub's longest timeout (1767 s)", async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const password = hub.token('dev1', key, Math.floor(hub.clock.now() / 1000) + 30 * 86400);
    const { client } = await hub.connect('dev1', key, { keepalive: 0, password });
    hub.clock.advance(1_766_999);
    await settle();
    assert.equal(client.isClosed, false);
    hub.clock.advance(1);
    await client.waitClosed();
  });

  test('the connection is closed when its SAS token expires (after the clock skew)', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const se = Math.floor(hub.clock.now() / 1000) + 60;
    const { client, connack } = await hub.connect('dev1', key, { keepalive: 0, password: hub.token('dev1', key, se) });
    assert.equal(connack.returnCode, 0);
    hub.clock.advance(60_000 + 5 * 60_000 - 1);
    await settle();
    assert.equal(client.isClosed, false);
    hub.clock.advance(1);
    await client.waitClosed();
  });
  // Keep-alive and the token's expiry share one timer per connection: each must still fire on time.
  test('a device that keeps pinging is still closed when its token expires', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const se = Math.floor(hub.clock.now() / 1000) + 60;
    const { client } = await hub.connect('dev1', key, { keepalive: 30, password: hub.token('dev1', key, se) });
    // 6 minutes of pings every 30 s: the keep-alive never runs out, the token (plus 5 min skew) does.
    for (let t = 0; t < 360_000 - 30_000; t += 30_000) {
      hub.clock.advance(30_000);
      client.send({ cmd: 'pingreq' });
      await client.next('pingresp');
    }
    hub.clock.advance(29_999);
    await settle();
    assert.equal(client.isClosed, false);
    hub.clock.advance(1);
    await client.waitClosed();
  });

  test('a silent device is dropped by keep-alive long before its token expires', async () => {
    const hub = await startTestHub();
    const key = await hub.device('dev1');
    const se = Math.floor(hub.clock.now() / 1000) + 86_400;
    const { client } = await hub.connect('dev1', key, { keepalive: 10, password: hub.token('dev1', key, se) });
    hub.clock.advance(14_999);
    await settle();
    assert.equal(client.isClosed, false);
    hub.clock.advance(1);
    await client.waitClosed();
  });
});
