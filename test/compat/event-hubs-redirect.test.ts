/**
 * Found by Microsoft's device_service.js and d2c_disconnect.js, which read telemetry with
 * @azure/event-hubs' EventHubClient.createFromIotHubConnectionString (package 1.x and 2.x, here
 * 1.0.8 as e2etests/package.json asks, under the alias azure-event-hubs-1): that client first
 * attaches to IoT Hub's own `messages/events/$management` with the hub's connection string and
 * expects to be redirected (amqp:link:redirect, whose info names the Event Hubs-compatible host
 * and address). Ferry answered "No node to send to"; it now redirects as IoT Hub does, and the
 * client reads the events the official device client sends.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { partitionOf } from '@ferry/hub';
import type { EventData } from 'azure-event-hubs-1';
import eventHubs from 'azure-event-hubs-1';
import { type HubProcess, startHub } from './harness.js';
import { Inbox } from './helpers/inbox.js';
import { openDevice, telemetry } from './helpers/telemetry.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 60_000 };

let hub: HubProcess;

before(async () => {
  hub = await startHub();
});

after(async () => {
  await hub?.stop();
});

test('createFromIotHubConnectionString follows the redirect to the built-in endpoint', T, async () => {
  const client = await withTimeout(
    eventHubs.EventHubClient.createFromIotHubConnectionString(hub.connectionString('service')),
    20_000,
    'createFromIotHubConnectionString',
  );
  try {
    const info = await withTimeout(client.getHubRuntimeInformation(), 20_000, 'getHubRuntimeInformation');
    assert.equal(info.path, hub.address);
    assert.deepEqual(info.partitionIds, ['0', '1', '2', '3']);

    const deviceId = 'redirected-reader';
    const cs = await hub.createDevice(deviceId);
    const events = new Inbox<EventData>();
    const errors: Error[] = [];
    const partition = String(partitionOf(deviceId, 4));
    const receiver = client.receive(
      partition,
      (e) => events.push(e),
      (err) => errors.push(err),
      {
        eventPosition: eventHubs.EventPosition.fromEnqueuedTime(Date.now() - 5000),
      },
    );
    const device = await openDevice(hub, cs, 'Amqp');
    try {
      await withTimeout(device.sendEvent(telemetry('through the redirect', { messageId: 'r1' })), 20_000, 'sendEvent');
      const event = await events.next(20_000, `the event on partition ${partition} (errors: ${errors.join('; ')})`);
      assert.equal(event.body.toString(), 'through the redirect');
      assert.equal(event.annotations?.['iothub-connection-device-id'], deviceId);
    } finally {
      await device.close();
      await receiver.stop();
    }
  } finally {
    await client.close();
  }
});

test('the redirect is only for a ServiceConnect credential: the device policy is refused first', T, async () => {
  await assert.rejects(
    eventHubs.EventHubClient.createFromIotHubConnectionString(hub.connectionString('device')),
    (err: Error & { condition?: string }) => err.condition === 'amqp:unauthorized-access',
  );
});
