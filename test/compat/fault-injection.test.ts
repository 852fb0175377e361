/**
 * Found by Microsoft's *_disconnect.js suites: a telemetry message with IoT Hub's fault-injection
 * properties (AzIoTHub_FaultOperationType, ...DelayInSecs, ...CloseReason) was kept as plain
 * telemetry on Ferry, where IoT Hub breaks the sender's connection after the delay. Driven here
 * by the official AMQP device client as those suites drive it: with NoRetry the client reports
 * the break as a `disconnect` event; with its default retry policy it reconnects by itself (no
 * `disconnect` event) and serves again. KillAmqpConnection and ShutDownAmqp are also the cases
 * where a bare close frame made the client wait 45 s for answers to detaches sent after its own
 * close, and where amqp:connection:forced made it give up instead of reconnecting. Over MQTT,
 * KillTcp and ShutDownMqtt close the connection (the Microsoft files run no MQTT rows).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import common from 'azure-iot-common';
import type { Client } from 'azure-iot-device';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { telemetry } from './helpers/telemetry.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 90_000 };
/** Well under the 45 s the client waits before it forces its own teardown. */
const RECOVERY_MS = 30_000;

let hub: HubProcess;

before(async () => {
  hub = await startHub();
});

after(async () => {
  await hub?.stop();
});

/** A direct method call the device answers (waiting up to 10 s for it to be connected). */
async function ping(deviceId: string, what: string): Promise<void> {
  const service = iothub.Client.fromConnectionString(hub.ownerConnectionString);
  try {
    const params = { methodName: 'ping', payload: null, connectTimeoutInSeconds: 10, responseTimeoutInSeconds: 10 };
    const { result } = await withTimeout(service.invokeDeviceMethod(deviceId, params as never), 30_000, what);
    assert.equal((result as { status: number }).status, 200);
  } finally {
    await service.close();
  }
}

function faultMessage(operation: string): common.Message {
  return telemetry('', {
    properties: {
      AzIoTHub_FaultOperationType: operation,
      AzIoTHub_FaultOperationCloseReason: ` fault test ${operation} `,
      AzIoTHub_FaultOperationDelayInSecs: '0',
    },
  });
}

const OPERATIONS = [
  'KillTcp',
  'KillAmqpConnection',
  'ShutDownAmqp',
  'KillAmqpSession',
  'KillAmqpCBSLinkReq',
  'KillAmqpCBSLinkResp',
  'KillAmqpD2CLink',
];

for (const operation of OPERATIONS) {
  describe(operation, () => {
    let cs: string;
    const id = `fault-${operation.toLowerCase()}`;
    before(async () => {
      cs = await hub.createDevice(id);
    });

    test('the client with NoRetry reports the break as a disconnect event', T, async () => {
      let client: Client | undefined;
      try {
        client = await openDevice(hub, cs, 'Amqp');
        client.setRetryPolicy(new common.NoRetry());
        const c = client;
        const disconnected = new Promise((resolve) => c.once('disconnect', resolve));
        await withTimeout(client.sendEvent(telemetry('before the fault')), 15_000, 'send before the fault');
        await withTimeout(client.sendEvent(faultMessage(operation)), 15_000, 'the fault request');
        await withTimeout(disconnected, RECOVERY_MS, `a disconnect event after ${operation}`);
      } finally {
        await closeDevice(client);
      }
    });

    test('the client with its default retry policy reconnects unseen and serves again', T, async () => {
      let client: Client | undefined;
      try {
        client = await openDevice(hub, cs, 'Amqp');
        const c = client;
        let disconnects = 0;
        client.on('disconnect', () => disconnects++);
        // A method handler makes the client reconnect by itself after a break (to re-attach it).
        c.onDeviceMethod('ping', (_req, res) => res.send(200, {}, () => undefined));
        await ping(id, 'a method call before the fault');
        const reconnected = new Promise((resolve) => c.once('connect', resolve));
        await withTimeout(client.sendEvent(faultMessage(operation)), 15_000, 'the fault request');
        await withTimeout(reconnected, RECOVERY_MS, `the client reconnecting after ${operation}`);
        await ping(id, `a method call after ${operation}`);
        await withTimeout(client.sendEvent(telemetry('after the fault')), 15_000, `a send after ${operation}`);
        assert.equal(disconnects, 0, 'the client reported a disconnect it should have recovered from');
      } finally {
        await closeDevice(client);
      }
    });
  });
}

for (const operation of ['KillTcp', 'ShutDownMqtt']) {
  test(`MQTT: ${operation} closes the connection; the client with NoRetry reports a disconnect event`, T, async () => {
    const cs = await hub.createDevice(`fault-mqtt-${operation.toLowerCase()}`);
    let client: Client | undefined;
    try {
      client = await openDevice(hub, cs, 'Mqtt');
      client.setRetryPolicy(new common.NoRetry());
      const c = client;
      const disconnected = new Promise((resolve) => c.once('disconnect', resolve));
      await withTimeout(client.sendEvent(faultMessage(operation)), 15_000, 'the fault request');
      await withTimeout(disconnected, RECOVERY_MS, `a disconnect event after ${operation}`);
    } finally {
      await closeDevice(client);
    }
  });
}
