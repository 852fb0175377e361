/**
 * Issue 27 item 3 against a real hub: rejected, expired and over-abandoned messages appear in the
 * dead-letter list with their reason (docs/dead-letters.md); a requeued one is delivered again to
 * the official MQTT device client and completes; requeue into a full queue is 403004; delete
 * removes one.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { receive, settle } from './helpers/device-raw.js';
import { API, send } from './helpers/send.js';
import { waitFor } from './helpers/wait.js';
import { openMqttDevice } from './mqtt-helpers.js';

const T = { timeout: 60_000 };
let hub: HubProcess;

before(async () => {
  hub = await startHub({ config: { c2d: { maxDeliveryCount: 2, maxQueueDepth: 3 } } });
});

after(async () => {
  await hub?.stop();
});

interface DeadLetterJson {
  sequenceNumber: number;
  messageId: string | null;
  reason: string;
  deadLetteredTimeUtc: string;
  deliveryCount: number;
  state: string;
}

async function call(method: string, path: string): Promise<{ status: number; json: unknown }> {
  const res = await hubRequest(hub, method, `${path}?${API}`, { headers: { authorization: serviceSas(hub) } });
  const text = res.body.toString('utf8');
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function deadLetters(deviceId: string): Promise<DeadLetterJson[]> {
  const r = await call('GET', `/devices/${deviceId}/messages/deviceBound/deadLetters`);
  assert.equal(r.status, 200);
  return r.json as DeadLetterJson[];
}

test(
  'rejected, expired and over-abandoned messages are listed with their reason; a requeued one is delivered again over MQTT and completes',
  T,
  async () => {
    const cs = await hub.createDevice('dl1');
    await send(hub, 'dl1', { messageId: 'rejected', body: 'r' });
    await send(hub, 'dl1', { messageId: 'abandoned', body: 'a' });
    const r = await receive(hub, cs);
    await settle(hub, cs, 'reject', r!.lockToken);
    for (let i = 0; i < 2; i++) await settle(hub, cs, 'abandon', (await receive(hub, cs))!.lockToken);
    await send(hub, 'dl1', { messageId: 'expired', body: 'e', expiry: new Date(Date.now() + 1500).toISOString() });
    const listed = await waitFor(
      async () => {
        const list = await deadLetters('dl1');
        return list.length === 3 ? list : undefined;
      },
      { what: 'three dead letters (the third after its expiry)', timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.deepEqual(
      listed.map((m) => [m.messageId, m.reason, m.state]),
      [
        ['rejected', 'Rejected', 'DeadLettered'],
        ['abandoned', 'DeliveryCountExceeded', 'DeadLettered'],
        ['expired', 'Expired', 'DeadLettered'],
      ],
    );
    assert.ok(listed.every((m) => !Number.isNaN(Date.parse(m.deadLetteredTimeUtc))));

    const back = await call(
      'POST',
      `/devices/dl1/messages/deviceBound/deadLetters/${listed[0]!.sequenceNumber}/requeue`,
    );
    assert.equal(back.status, 200);
    assert.ok((back.json as { sequenceNumber: number }).sequenceNumber > 3, 'a new sequence number at the tail');
    assert.deepEqual(
      (await deadLetters('dl1')).map((m) => m.messageId),
      ['abandoned', 'expired'],
    );
    const device = await openMqttDevice(hub, cs);
    try {
      const m = await device.next();
      assert.equal(m.messageId, 'rejected');
      assert.equal(String(m.data), 'r');
      // MQTT completes with the PUBACK: the queue empties.
      await waitFor(
        async () => {
          const p = await call('GET', '/devices/dl1/messages/deviceBound/pending');
          return (p.json as unknown[]).length === 0 ? true : undefined;
        },
        { what: 'the requeued message completed' },
      );
    } finally {
      await device.close();
    }

    const gone = await call('DELETE', `/devices/dl1/messages/deviceBound/deadLetters/${listed[1]!.sequenceNumber}`);
    assert.equal(gone.status, 204);
    assert.deepEqual(
      (await deadLetters('dl1')).map((m) => m.messageId),
      ['expired'],
    );
    assert.equal(
      (await call('DELETE', `/devices/dl1/messages/deviceBound/deadLetters/${listed[1]!.sequenceNumber}`)).status,
      404,
    );
  },
);

test('requeue into a full queue is refused with 403004 and the dead letter is kept', T, async () => {
  const cs = await hub.createDevice('dl2');
  await send(hub, 'dl2', { messageId: 'x' });
  await settle(hub, cs, 'reject', (await receive(hub, cs))!.lockToken);
  for (let i = 0; i < 3; i++) await send(hub, 'dl2', { messageId: `fill${i}` });
  const [dead] = await deadLetters('dl2');
  const res = await hubRequest(
    hub,
    'POST',
    `/devices/dl2/messages/deviceBound/deadLetters/${dead!.sequenceNumber}/requeue?${API}`,
    {
      headers: { authorization: serviceSas(hub) },
    },
  );
  assert.equal(res.status, 403);
  assert.equal(res.headers['iothub-errorcode'], 'DeviceMaximumQueueDepthExceeded');
  assert.deepEqual(
    (await deadLetters('dl2')).map((m) => m.messageId),
    ['x'],
  );
});
