/**
 * Regression: a Ferry DeviceClient that only sent events or read its twin leased the device's
 * queued C2D messages (it subscribed to C2D when it connected), so they stayed locked to a
 * connection that never completed them. Now C2D is subscribed on the first receive(), as
 * azure-iot-device does: the queued message stays Enqueued (and an HTTPS receiver of the same
 * device gets it at once) until the same client receives it. Over MQTT a send-only client also
 * starts a clean session, so it does not resume the C2D subscription a receiver left stored.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { DeviceClient, type DeviceTransportName, noRetry } from '@ferry/device';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { API, send } from './helpers/send.js';
import { waitFor } from './helpers/wait.js';

const T = { timeout: 90_000 };

let hub: HubProcess;
before(async () => {
  hub = await startHub();
});
after(async () => {
  await hub?.stop();
});

async function pending(deviceId: string): Promise<Array<{ messageId: string; state: string }>> {
  const res = await hubRequest(hub, 'GET', `/devices/${deviceId}/messages/deviceBound/pending?${API}`, {
    headers: { authorization: serviceSas(hub) },
  });
  assert.equal(res.status, 200);
  return JSON.parse(res.body.toString('utf8'));
}

function device(cs: string, transport: DeviceTransportName): DeviceClient {
  return DeviceClient.fromConnectionString(cs, { transport, ca: readFileSync(hub.caFile, 'utf8'), retry: noRetry });
}

for (const transport of ['mqtt', 'amqp'] as const) {
  test(
    `${transport}: a client that sends events and reads its twin leases no C2D message; receive() gets it`,
    T,
    async () => {
      const deviceId = `lazy-${transport}`;
      const cs = await hub.createDevice(deviceId);
      await send(hub, deviceId, { messageId: 'queued-1', body: 'for a receiver' });
      await send(hub, deviceId, { messageId: 'queued-2', body: 'for this client' });
      const client = device(cs, transport);
      try {
        await client.sendEvent({ body: 'telemetry' });
        await client.getTwin();
        // The twin's round trip came after the connection was up: a pushed message would be Invisible by now.
        assert.deepEqual(
          (await pending(deviceId)).map((m) => [m.messageId, m.state]),
          [
            ['queued-1', 'Enqueued'],
            ['queued-2', 'Enqueued'],
          ],
        );
        // Another receiver of the device gets the first at once, while this client is still connected.
        const poller = device(cs, 'https');
        const taken = await poller.receive();
        assert.equal(taken?.messageId, 'queued-1');
        await poller.complete(taken!);
        await poller.close();
        await client.sendEvent({ body: 'still connected' });
        const m = await client.receive({ timeoutMs: 20_000 });
        assert.equal(m?.messageId, 'queued-2');
        assert.equal(m?.body.toString('utf8'), 'for this client');
        await client.complete(m!);
        await waitFor(async () => (await pending(deviceId)).length === 0 || undefined, { what: 'the completion' });
      } finally {
        await client.close();
      }
    },
  );
}

test(
  'mqtt: a send-only client after a receiving one (same device, stored session) leases no C2D message',
  T,
  async () => {
    const deviceId = 'lazy-after-receiver';
    const cs = await hub.createDevice(deviceId);
    const receiver = device(cs, 'mqtt');
    assert.equal(await receiver.receive({ timeoutMs: 100 }), null);
    await receiver.close();
    await send(hub, deviceId, { messageId: 'queued', body: 'for a receiver' });
    const sender = device(cs, 'mqtt');
    try {
      await sender.sendEvent({ body: 'telemetry' });
      await sender.getTwin();
      assert.deepEqual(
        (await pending(deviceId)).map((m) => [m.messageId, m.state]),
        [['queued', 'Enqueued']],
      );
    } finally {
      await sender.close();
    }
  },
);
