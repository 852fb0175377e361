/**
 * Found by Microsoft's device_service.js ("Device sends a message of maximum size and it is
 * received by the service"): a message's `dt-subject` (its Plug and Play component; the official
 * device client sends it as MQTT `$.sub`, an AMQP message annotation, an HTTP header without the
 * iothub-app- prefix) reached readers as an application property over MQTT and not at all over
 * AMQP and HTTP; IoT Hub gives it to readers as the message annotation `dt-subject`. Read here as
 * that file reads it, with @azure/event-hubs 1.0.8's EventHubClient (alias azure-event-hubs-1).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { partitionOf } from '@ferry/hub';
import type { EventData } from 'azure-event-hubs-1';
import eventHubs from 'azure-event-hubs-1';
import { type HubProcess, startHub } from './harness.js';
import { Inbox } from './helpers/inbox.js';
import { type DeviceTransport, openDevice, telemetry } from './helpers/telemetry.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 60_000 };

let hub: HubProcess;

before(async () => {
  hub = await startHub();
});

after(async () => {
  await hub?.stop();
});

for (const transport of ['Mqtt', 'Amqp', 'Http'] as DeviceTransport[]) {
  test(`over ${transport}: dt-subject reaches the reader as a message annotation`, T, async () => {
    const deviceId = `dt-subject-${transport.toLowerCase()}`;
    const cs = await hub.createDevice(deviceId);
    const client = await eventHubs.EventHubClient.createFromIotHubConnectionString(hub.connectionString('service'));
    const events = new Inbox<EventData>();
    const receiver = client.receive(
      String(partitionOf(deviceId, 4)),
      (e) => events.push(e),
      () => undefined,
      {
        eventPosition: eventHubs.EventPosition.fromEnqueuedTime(Date.now() - 5000),
      },
    );
    const device = await openDevice(hub, cs, transport);
    try {
      const message = telemetry('with a component', { properties: { a: 'b', 'dt-subject': 'thermostat1' } });
      await withTimeout(device.sendEvent(message), 20_000, 'sendEvent');
      const event = await events.next(20_000, 'the event');
      assert.equal(event.annotations?.['dt-subject'], 'thermostat1');
      assert.deepEqual(event.applicationProperties, { a: 'b' });
    } finally {
      await device.close();
      await receiver.stop();
      await client.close();
    }
  });
}
