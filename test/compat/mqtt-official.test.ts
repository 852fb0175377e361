/**
 * The official device client (azure-iot-device + azure-iot-device-mqtt) against a real hub, over
 * MQTT/TLS and MQTT/WebSocket (issue 4 "Verified by"). C2D is sent with the HTTPS send extension;
 * feedback is read over HTTPS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import common from 'azure-iot-common';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { expectFeedback } from './helpers/feedback.js';
import { send } from './helpers/send.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { connectSilent, type MqttTransportName, openMqttDevice, propertiesOf } from './mqtt-helpers.js';

const T = { timeout: 60_000 };

/** HTTP header values are bytes: send UTF-8 as Latin-1 characters (the hub decodes them back). */
const utf8Header = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

/** Pino lines of the hub for one device with the given msg. */
function logLines(hub: HubProcess, deviceId: string, msg: string): number {
  return hub
    .output()
    .split('\n')
    .filter((l) => l.includes(`"deviceId":"${deviceId}"`) && l.includes(`"msg":"${msg}"`)).length;
}

describe('official MQTT device client', () => {
  let hub: HubProcess;

  before(async () => {
    hub = await startHub({ config: { feedback: { batchDelayMs: 0 }, log: { level: 'info' } } });
  });

  after(async () => {
    await hub?.stop();
  });

  for (const transport of ['Mqtt', 'MqttWs'] as MqttTransportName[]) {
    test(
      `${transport}: every property arrives intact; the PUBACK completes it and full feedback says Success`,
      T,
      async () => {
        const deviceId = `props-${transport}`;
        const cs = await hub.createDevice(deviceId);
        const device = await openMqttDevice(hub, cs, transport);
        try {
          // Header names must be HTTP tokens, so names carry & + ' * ~ here; values carry everything.
          const properties = {
            'name&with+odd~chars': 'a b&c=d/e+f',
            'unicode-value': utf8Header('日本語 ✓ ünï 😀'),
            slashes: '/x/y/?z#',
            percent: '%20 100%',
          };
          const expiry = new Date(Date.now() + 3600_000).toISOString();
          await send(hub, deviceId, {
            body: Buffer.from([0, 1, 2, 255]),
            messageId: `m 1/&=+-${transport}`,
            correlationId: 'corr = 1 & 2',
            ack: 'full',
            expiry,
            contentType: 'application/json; charset=utf-8',
            contentEncoding: 'utf-8',
            properties,
          });
          const m = await device.next(15_000);
          assert.equal(m.messageId, `m 1/&=+-${transport}`);
          assert.equal(m.correlationId, 'corr = 1 & 2');
          assert.equal(m.to, `/devices/${deviceId}/messages/devicebound`);
          assert.equal(m.expiryTimeUtc, expiry);
          assert.equal(m.contentType, 'application/json; charset=utf-8');
          assert.equal(m.contentEncoding, 'utf-8');
          assert.deepEqual(m.data, Buffer.from([0, 1, 2, 255]));
          assert.deepEqual(propertiesOf(m), {
            'iothub-ack': 'full',
            'name&with+odd~chars': 'a b&c=d/e+f',
            'unicode-value': '日本語 ✓ ünï 😀',
            slashes: '/x/y/?z#',
            percent: '%20 100%',
          });
          await expectFeedback(hub, [{ originalMessageId: `m 1/&=+-${transport}`, deviceId, statusCode: 'Success' }], {
            timeoutMs: 15_000,
          });
        } finally {
          await device.close();
        }
      },
    );
  }

  for (const transport of ['Mqtt', 'MqttWs'] as MqttTransportName[]) {
    test(
      `${transport}: property names with spaces, =, /, & and non-ASCII, sent by the official service client (AMQP), arrive exactly as sent; iothub-ack only when set`,
      T,
      async () => {
        // HTTP header names cannot carry these characters; AMQP application properties can.
        const deviceId = `prop-names-${transport}`;
        const cs = await hub.createDevice(deviceId);
        const device = await openMqttDevice(hub, cs, transport);
        const service = iothub.Client.fromConnectionString(hub.connectionString('service'));
        try {
          await withTimeout(service.open(), 15_000, 'service open');
          const m = new common.Message('names');
          m.messageId = `names-${transport}`;
          const properties: Record<string, string> = {
            'my prop': 'a b',
            'a=b&c': 'x=y&z',
            'x/y+z': '/+/',
            'ünï 日本': 'ünï 日本 😀',
          };
          for (const [k, v] of Object.entries(properties)) m.properties.add(k, v);
          await withTimeout(service.send(deviceId, m), 15_000, 'service send');
          const got = await device.next(15_000);
          assert.equal(got.messageId, `names-${transport}`);
          // Issue 13: exactly the properties sent; no ack or expiry the sender did not set.
          assert.deepEqual(propertiesOf(got), properties);
          assert.equal(got.expiryTimeUtc, undefined);
          const withAck = new common.Message('with ack');
          withAck.messageId = `ack-${transport}`;
          withAck.ack = 'full';
          withAck.properties.add('p', 'v');
          await withTimeout(service.send(deviceId, withAck), 15_000, 'service send');
          const acked = await device.next(15_000);
          assert.equal(acked.messageId, `ack-${transport}`);
          assert.deepEqual(propertiesOf(acked), { p: 'v', 'iothub-ack': 'full' });
        } finally {
          await withTimeout(service.close(), 5000, 'service close').catch(() => undefined);
          await device.close();
        }
      },
    );
  }

  test('messages sent while the device was offline arrive in order when it connects (clean session 0)', T, async () => {
    const deviceId = 'offline';
    const cs = await hub.createDevice(deviceId);
    const first = await openMqttDevice(hub, cs);
    await send(hub, deviceId, { messageId: 'warm-up' });
    assert.equal((await first.next()).messageId, 'warm-up');
    await first.close();
    const ids = ['o1', 'o2', 'o3', 'o4', 'o5'];
    for (const id of ids) await send(hub, deviceId, { messageId: id, body: id });
    const again = await openMqttDevice(hub, cs);
    try {
      const got: string[] = [];
      for (let i = 0; i < ids.length; i++) got.push(String((await again.next()).messageId));
      assert.deepEqual(got, ids);
    } finally {
      await again.close();
    }
  });

  test('short token renewal: the client reconnects without subscribing again and keeps receiving', T, async () => {
    const deviceId = 'renewal';
    const cs = await hub.createDevice(deviceId);
    const device = await openMqttDevice(hub, cs, 'Mqtt', {
      tokenRenewal: { tokenValidTimeInSeconds: 4, tokenRenewalMarginInSeconds: 2 },
    });
    try {
      await send(hub, deviceId, { messageId: 'r0' });
      assert.equal((await device.next()).messageId, 'r0');
      for (let round = 1; round <= 3; round++) {
        const before = logLines(hub, deviceId, 'MQTT device connected');
        await waitFor(() => (logLines(hub, deviceId, 'MQTT device connected') > before ? true : undefined), {
          timeoutMs: 15_000,
          what: `token-renewal reconnect #${round}`,
        });
        await send(hub, deviceId, { messageId: `r${round}` });
        assert.equal((await device.next(15_000)).messageId, `r${round}`);
      }
      assert.ok(logLines(hub, deviceId, 'MQTT device connected') >= 4, 'at least three reconnects');
      assert.equal(logLines(hub, deviceId, 'MQTT C2D subscription'), 1, 'SUBSCRIBE was sent once only');
      assert.deepEqual(device.errors, []);
    } finally {
      await device.close();
    }
  });

  test('a second client with the same device id takes over; the first is closed', T, async () => {
    const deviceId = 'takeover';
    const cs = await hub.createDevice(deviceId);
    const first = await connectSilent(hub, cs);
    await withTimeout(
      first.mqtt.subscribeAsync(`devices/${deviceId}/messages/devicebound/#`, { qos: 1 }),
      5000,
      'subscribe',
    );
    const second = await openMqttDevice(hub, cs);
    try {
      await withTimeout(first.closed, 10_000, 'the first connection to be closed by the hub');
      await send(hub, deviceId, { messageId: 't1' });
      assert.equal((await second.next()).messageId, 't1');
      assert.equal(first.publishes.length, 0);
    } finally {
      await second.close();
      await first.end();
    }
  });

  test('a wrong key: CONNACK 5, UnauthorizedError, and no retries', T, async () => {
    const deviceId = 'wrong-key';
    const cs = await hub.createDevice(deviceId);
    const bad = cs.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    const refusedBefore = hub.output().split('CONNACK 5').length;
    const { default: deviceSdk } = await import('azure-iot-device');
    const { default: deviceMqtt } = await import('azure-iot-device-mqtt');
    const client = deviceSdk.Client.fromConnectionString(bad, deviceMqtt.Mqtt);
    await client.setOptions({ ca: (await import('node:fs')).readFileSync(hub.caFile, 'utf8') });
    await assert.rejects(withTimeout(client.open(), 20_000, 'open with a wrong key'), (err: Error) => {
      assert.equal(err.name, 'UnauthorizedError', String(err));
      return true;
    });
    // The client gave up after one attempt: exactly one refusal was logged for it.
    await waitFor(() => (hub.output().split('CONNACK 5').length > refusedBefore ? true : undefined), {
      what: 'the refusal log line',
    });
    assert.equal(hub.output().split('CONNACK 5').length - refusedBefore, 1);
    await client.close().catch(() => undefined);
  });
});
