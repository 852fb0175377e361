/**
 * Device-to-cloud telemetry from the official device clients on every transport (issue 24): each
 * send is answered only once the event is durable, so after kill -9 every acknowledged event is in
 * the event log, with its body, system and application properties and IoT Hub's enrichment, in
 * the partition of its device, numbered in the order sent. A device cannot send as another one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { partitionOf } from '@ferry/hub';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { deviceSas } from './helpers/auth.js';
import { DEVICE_TRANSPORTS, type DeviceTransport, eventsOnDisk, openDevice, telemetry } from './helpers/telemetry.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 90_000 };
const TRANSPORTS = Object.keys(DEVICE_TRANSPORTS) as DeviceTransport[];

describe('telemetry from the official device clients', () => {
  let hub: HubProcess;
  const css = new Map<DeviceTransport, string>();

  before(async () => {
    hub = await startHub();
    for (const t of TRANSPORTS) css.set(t, await hub.createDevice(`tel-${t.toLowerCase()}`));
  });

  after(async () => {
    await hub?.stop();
  });

  test('MQTT, MQTT-WS, AMQP, AMQP-WS and HTTPS: every acknowledged event survives kill -9, enriched', T, async () => {
    await Promise.all(
      TRANSPORTS.map(async (t) => {
        const client = await openDevice(hub, css.get(t)!, t);
        try {
          for (let i = 0; i < 3; i++) {
            await withTimeout(
              client.sendEvent(
                telemetry(`{"n":${i},"via":"${t}"}`, {
                  messageId: `${t}-${i}`,
                  correlationId: `corr-${i}`,
                  contentType: 'application/json',
                  properties: { temperature: String(20 + i), 'name&with+odd~chars': 'a b&c=d/e+f' },
                }),
              ),
              20_000,
              `${t} sendEvent ${i}`,
            );
          }
        } finally {
          await withTimeout(client.close(), 10_000, `${t} close`).catch(() => undefined);
        }
      }),
    );
    await hub.kill();
    const events = await eventsOnDisk(hub.dataDir);
    for (const t of TRANSPORTS) {
      const deviceId = `tel-${t.toLowerCase()}`;
      const mine = events.filter((e) => e.deviceId === deviceId);
      assert.deepEqual(
        mine.map((e) => e.body),
        [0, 1, 2].map((i) => `{"n":${i},"via":"${t}"}`),
        `${t}: the three events, in order`,
      );
      for (const [i, e] of mine.entries()) {
        assert.equal(e.partition, partitionOf(deviceId, 4), `${t}: the device's partition`);
        if (i > 0) assert.ok(e.sequenceNumber > mine[i - 1]!.sequenceNumber, `${t}: numbered in the order sent`);
        assert.equal(e.system['message-id'], `${t}-${i}`, `${t}: message id`);
        assert.equal(e.system['correlation-id'], `corr-${i}`, `${t}: correlation id`);
        assert.equal(e.system['content-type'], 'application/json', `${t}: content type`);
        assert.equal(e.properties.temperature, String(20 + i), `${t}: application property`);
        assert.equal(e.properties['name&with+odd~chars'], 'a b&c=d/e+f', `${t}: an odd property survives`);
        assert.equal(e.annotations['iothub-connection-device-id'], deviceId);
        assert.equal(e.annotations['iothub-message-source'], 'Telemetry');
        assert.match(e.annotations['iothub-connection-auth-generation-id']!, /.+/);
        assert.deepEqual(JSON.parse(e.annotations['iothub-connection-auth-method']!), {
          scope: 'device',
          type: 'sas',
          issuer: 'iothub',
          acceptingIpFilterRule: null,
        });
      }
    }
    await hub.restart();
  });

  test('HTTPS: a device cannot post as another device (401), nor past 256 KB (413 MessageTooLarge)', T, async () => {
    const mine = css.get('Http')!;
    const other = 'tel-mqtt';
    const asOther = await hubRequest(hub, 'POST', `/devices/${other}/messages/events?api-version=2021-04-12`, {
      headers: { authorization: deviceSas(mine) },
      body: 'x',
    });
    assert.equal(asOther.status, 401);
    assert.equal(asOther.headers['iothub-errorcode'], 'IotHubUnauthorizedAccess');
    const tooBig = await hubRequest(hub, 'POST', '/devices/tel-http/messages/events?api-version=2021-04-12', {
      headers: { authorization: deviceSas(mine) },
      body: Buffer.alloc(256 * 1024 + 1, 65),
    });
    assert.equal(tooBig.status, 413);
    assert.equal(tooBig.headers['iothub-errorcode'], 'MessageTooLarge');
    const batch = await hubRequest(hub, 'POST', '/devices/tel-http/messages/events?api-version=2021-04-12', {
      headers: { authorization: deviceSas(mine), 'content-type': 'application/vnd.microsoft.iothub.json' },
      body: '[{"body": 12}]',
    });
    assert.equal(batch.status, 400);
    assert.equal(batch.headers['iothub-errorcode'], 'ArgumentInvalid');
  });
});
