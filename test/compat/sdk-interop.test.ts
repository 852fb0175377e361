/**
 * Interop both ways: Ferry's service SDK sends to the official azure-iot-device clients (MQTT,
 * AMQP, HTTP), and the official azure-iothub client sends to Ferry's device SDK, with feedback
 * read by the other side's SDK; direct methods likewise, each side's invoke answered by the
 * other side's device.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DeviceClient, type DeviceTransportName } from '@ferry/device';
import { ServiceClient } from '@ferry/service';
import iothub from 'azure-iothub';
import { c2dMessage, type FeedbackRecord, openAmqpDevice, openService, sendResult } from './amqp-helpers.js';
import { type HubProcess, startHub } from './harness.js';
import { appProperty, openHttpDevice } from './helpers/device-sdk.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { withTimeout } from './helpers/wait.js';
import { openMqttDevice, propertiesOf } from './mqtt-helpers.js';

const T = { timeout: 60_000 };
const PROPS = { 'my prop': 'a b&c=d/e+é' };

let hub: HubProcess;
let ca: string;

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
  ca = readFileSync(hub.caFile, 'utf8');
});

after(async () => {
  await hub?.stop();
});

describe("Ferry's service SDK to the official device clients", () => {
  let service: ServiceClient;
  before(() => {
    service = ServiceClient.fromConnectionString(hub.connectionString('service'), { ca });
  });
  after(async () => {
    await service.close();
  });

  test('MQTT: body, ids and properties arrive; Success feedback comes back to the Ferry SDK', T, async () => {
    const cs = await hub.createDevice('interop-mqtt');
    const device = await openMqttDevice(hub, cs);
    try {
      const { messageId } = await service.send('interop-mqtt', {
        body: 'to mqtt',
        ack: 'full',
        correlationId: 'c1',
        properties: PROPS,
      });
      const m = await device.next(20_000);
      assert.equal(m.data.toString(), 'to mqtt');
      assert.equal(m.messageId, messageId);
      assert.equal(m.correlationId, 'c1');
      assert.equal(propertiesOf(m)['my prop'], PROPS['my prop']);
      for await (const batch of service.feedback()) {
        await batch.complete();
        const r = batch.records.find((x) => x.originalMessageId === messageId);
        if (r) {
          assert.equal(r.statusCode, 'Success');
          break;
        }
      }
    } finally {
      await device.close();
    }
  });

  test('AMQP: ack and properties arrive; reject on the official client', T, async () => {
    const cs = await hub.createDevice('interop-amqp');
    const device = await openAmqpDevice(hub, cs, 'Amqp');
    try {
      const { messageId } = await service.send('interop-amqp', { body: 'to amqp', ack: 'positive', properties: PROPS });
      const m = await device.inbox.next(20_000);
      assert.equal(m.data.toString(), 'to amqp');
      assert.equal(m.messageId, messageId);
      assert.equal(m.ack, 'positive');
      assert.equal(m.properties.getValue('my prop'), PROPS['my prop']);
      await device.client.complete(m);
    } finally {
      await device.close();
    }
  });

  test('HTTP: the official polling client gets it', T, async () => {
    const cs = await hub.createDevice('interop-http');
    const device = await openHttpDevice(hub, cs);
    try {
      const { messageId } = await service.send('interop-http', { body: 'to http', properties: { zone: 'a b&c=d' } });
      const m = await device.next(20_000);
      assert.equal(m.messageId, messageId);
      // ASCII only: the official HTTP transport reads header bytes as Latin-1, so UTF-8 would arrive mangled.
      assert.equal(appProperty(m, 'zone'), 'a b&c=d');
      await device.client.complete(m);
    } finally {
      await device.close();
    }
  });
});

describe("The official service client to Ferry's device SDK", () => {
  for (const transport of ['mqtt', 'amqp', 'https'] as DeviceTransportName[]) {
    test(
      `${transport}: azure-iothub send arrives intact; settling gives the official feedback receiver its record`,
      T,
      async () => {
        const id = `interop-ferry-${transport}`;
        const cs = await hub.createDevice(id);
        const official = await openService(hub, 'Amqp');
        const device = DeviceClient.fromConnectionString(cs, { transport, ca });
        try {
          const m = c2dMessage('from azure-iothub', { messageId: `${transport}-official`, ack: 'full' });
          m.correlationId = 'corr';
          m.properties.add('my prop', PROPS['my prop']);
          assert.equal(await sendResult(official, id, m), undefined);
          let got = await device.receive({ timeoutMs: 20_000 });
          for (let i = 0; !got && i < 50; i++) got = await device.receive();
          assert.ok(got, 'the message arrived');
          assert.equal(got.body.toString(), 'from azure-iothub');
          assert.equal(got.messageId, `${transport}-official`);
          assert.equal(got.correlationId, 'corr');
          assert.equal(got.ack, 'full');
          assert.equal(got.properties['my prop'], PROPS['my prop']);
          const outcome = transport === 'mqtt' ? 'Success' : 'Rejected';
          if (transport === 'mqtt') await device.complete(got);
          else await device.reject(got);
          let record: FeedbackRecord;
          do record = await official.feedback.next(20_000, 'feedback');
          while (record.originalMessageId !== `${transport}-official`);
          assert.equal(record.statusCode, outcome);
        } finally {
          await device.close();
          await official.close();
        }
      },
    );
  }
});

describe('direct methods across the SDKs', () => {
  for (const transport of ['Mqtt', 'Amqp'] as const) {
    test(`Ferry's invokeMethod answered by the official ${transport} device`, T, async () => {
      const id = `interop-method-${transport.toLowerCase()}`;
      const device = await openDevice(hub, await hub.createDevice(id), transport);
      const service = ServiceClient.fromConnectionString(hub.connectionString('service'), { ca });
      try {
        device.onDeviceMethod('reboot', (request, response) => {
          response.send(202, { got: request.payload }, () => undefined);
        });
        // The official client subscribes once its handler is set, without telling when: wait for it.
        const result = await service.invokeMethod(id, {
          methodName: 'reboot',
          payload: { delay: 5 },
          connectTimeoutInSeconds: 10,
        });
        assert.deepEqual(result, { status: 202, payload: { got: { delay: 5 } } });
      } finally {
        await service.close();
        await closeDevice(device);
      }
    });
  }

  for (const transport of ['mqtt', 'amqp-ws'] as const) {
    test(`the official invokeDeviceMethod answered by Ferry's ${transport} device`, T, async () => {
      const id = `interop-ferry-method-${transport}`;
      const device = DeviceClient.fromConnectionString(await hub.createDevice(id), { transport, ca });
      const official = iothub.Client.fromConnectionString(hub.connectionString('service'));
      try {
        await device.onMethod('reboot', (request) => ({ status: 200, payload: { echo: request.payload } }));
        const call = official.invokeDeviceMethod(id, { methodName: 'reboot', payload: [1, 'two'] } as never);
        const { result } = (await withTimeout(call as unknown as Promise<{ result: unknown }>, 30_000, 'invoke')) as {
          result: unknown;
        };
        assert.deepEqual(result, { status: 200, payload: { echo: [1, 'two'] } });
      } finally {
        await official.close().catch(() => undefined);
        await device.close();
      }
    });
  }
});
