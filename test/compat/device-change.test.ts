/**
 * "A disabled device cannot use any device-facing endpoint" (c2d-semantics.md 7.6), end to end:
 * the official MQTT device client is connected and receiving when the official service Registry
 * disables the device; the hub cuts it off at once, refuses its reconnect, and once the device is
 * enabled again a new client receives. The official AMQP device client sees its C2D link detached.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import common from 'azure-iot-common';
import type { Registry } from 'azure-iothub';
import iothub from 'azure-iothub';
import { openAmqpDevice } from './amqp-helpers.js';
import { type HubProcess, startHub } from './harness.js';
import { send } from './helpers/send.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { openMqttDevice } from './mqtt-helpers.js';

const T = { timeout: 60_000 };

let hub: HubProcess;
let registry: Registry;

before(async () => {
  hub = await startHub({ config: { log: { level: 'info' } } });
  registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
});

after(async () => {
  await hub?.stop();
});

async function connectionState(deviceId: string): Promise<string | undefined> {
  return (await registry.get(deviceId)).responseBody.connectionState;
}

/** Hub log lines (pino JSON) about the device that contain `text`. */
function logged(deviceId: string, text: string): string[] {
  return hub
    .output()
    .split('\n')
    .filter((l) => l.includes(`"deviceId":"${deviceId}"`) && l.includes(text));
}

test('disabling the device cuts off its MQTT client; re-enabling lets a new client receive', T, async () => {
  const deviceId = 'change-mqtt';
  const cs = await hub.createDevice(deviceId);
  const first = await openMqttDevice(hub, cs, 'Mqtt');
  try {
    // Without retries the client reports the cut as 'disconnect' instead of reconnecting for minutes.
    first.client.setRetryPolicy(new common.NoRetry());
    await send(hub, deviceId, { messageId: 'before' });
    assert.equal((await first.next(15_000)).messageId, 'before');
    assert.equal(await connectionState(deviceId), 'Connected');

    const cut = new Promise<unknown>((resolve) => {
      first.client.once('disconnect', resolve);
      first.client.once('error', resolve);
    });
    await registry.update({ deviceId, status: 'disabled', statusReason: 'compat test' });
    await withTimeout(cut, 15_000, "the client's disconnect after the disable");
    await waitFor(async () => ((await connectionState(deviceId)) === 'Disconnected' ? true : undefined), {
      what: 'connectionState Disconnected',
    });
    await waitFor(() => (logged(deviceId, 'the device was disabled').length === 1 ? true : undefined), {
      what: 'the hub to log why it closed the connection',
    });

    // The client's own reconnect is refused (CONNACK 3, which the SDK reports as "Server unavailable").
    await assert.rejects(withTimeout(first.client.open(), 15_000, 'reopen of the disabled device'), (err: Error) => {
      assert.match(err.message, /Server unavailable/, 'CONNACK 3');
      return true;
    });
  } finally {
    await first.close();
  }

  await registry.update({ deviceId, status: 'enabled' });
  const second = await openMqttDevice(hub, cs, 'Mqtt');
  try {
    await send(hub, deviceId, { messageId: 'after' });
    assert.equal((await second.next(15_000)).messageId, 'after');
    assert.equal(await connectionState(deviceId), 'Connected');
  } finally {
    await second.close();
  }
});

test('disabling the device detaches the C2D link of its AMQP client', T, async () => {
  const deviceId = 'change-amqp';
  const cs = await hub.createDevice(deviceId);
  const device = await openAmqpDevice(hub, cs, 'Amqp');
  try {
    device.client.setRetryPolicy(new common.NoRetry());
    await send(hub, deviceId, { messageId: 'before' });
    const m = await device.inbox.next(15_000);
    assert.equal(m.messageId, 'before');
    await device.client.complete(m);
    assert.equal(await connectionState(deviceId), 'Connected');

    const cut = new Promise<unknown>((resolve) => {
      device.client.once('disconnect', resolve);
      device.client.once('error', resolve);
    });
    await registry.update({ deviceId, status: 'disabled' });
    const why = (await withTimeout(cut, 15_000, "the client's disconnect after the disable")) as {
      transportObj?: Error;
    };
    // The SDK turns the detach's amqp:unauthorized-access into its UnauthorizedError.
    assert.equal(why.transportObj?.name, 'UnauthorizedError');
    await waitFor(async () => ((await connectionState(deviceId)) === 'Disconnected' ? true : undefined), {
      what: 'connectionState Disconnected',
    });
  } finally {
    await device.close();
  }

  await registry.update({ deviceId, status: 'enabled' });
  const again = await openAmqpDevice(hub, cs, 'Amqp');
  try {
    await send(hub, deviceId, { messageId: 'after' });
    assert.equal((await again.inbox.next(15_000)).messageId, 'after');
  } finally {
    await again.close();
  }
});
