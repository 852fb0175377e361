/**
 * @ferry/service reads telemetry (issue 24): ServiceClient.readEvents() over AMQP against a real
 * hub's Event Hubs-compatible endpoint, with events sent by the official device client: every
 * event typed (body, properties, system properties, device id, enqueued time, partition,
 * sequence number) from earliest, from a sequence number, from a time and from latest; over
 * AMQP-WebSocket; a restart of the hub resumes after the last event given (none twice); an unknown
 * consumer group is NotFound, a policy without ServiceConnect IotHubUnauthorizedAccess.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { partitionOf } from '@ferry/hub';
import { isFerryError, noRetry, ServiceClient, type TelemetryEvent } from '@ferry/service';
import type { Client } from 'azure-iot-device';
import { type HubProcess, startHub } from './harness.js';
import { closeDevice } from './helpers/official-device.js';
import { openDevice, telemetry } from './helpers/telemetry.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 90_000 };
const DEVICE = 'reader-dev';
const PARTITION = partitionOf(DEVICE, 4);

/** The next `n` events of an iterator. */
async function take(it: AsyncGenerator<TelemetryEvent>, n: number, what: string): Promise<TelemetryEvent[]> {
  const out: TelemetryEvent[] = [];
  while (out.length < n) {
    const r = await withTimeout(it.next(), 20_000, `${what}: event ${out.length + 1} of ${n}`);
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('ServiceClient.readEvents', () => {
  let hub: HubProcess;
  let ca: string;
  let service: ServiceClient;
  let deviceCs: string;
  let sentAt = 0;

  async function send(bodies: string[], first: number): Promise<void> {
    const device: Client = await openDevice(hub, deviceCs, 'Mqtt');
    try {
      for (const [i, body] of bodies.entries()) {
        await withTimeout(
          device.sendEvent(
            telemetry(body, {
              messageId: `m${first + i}`,
              correlationId: `c${first + i}`,
              contentType: 'application/json',
              properties: { level: `L${first + i}` },
            }),
          ),
          20_000,
          'sendEvent',
        );
      }
    } finally {
      await closeDevice(device);
    }
  }

  before(async () => {
    hub = await startHub();
    ca = readFileSync(hub.caFile, 'utf8');
    deviceCs = await hub.createDevice(DEVICE);
    sentAt = Date.now();
    await send(['{"n":0}', '{"n":1}', '{"n":2}'], 0);
    service = ServiceClient.fromConnectionString(hub.connectionString('service'), { ca });
  });

  after(async () => {
    await service?.close();
    await hub?.stop();
  });

  test('from earliest: every event, typed', T, async () => {
    const it = service.readEvents({ from: 'earliest' });
    try {
      const events = await take(it, 3, 'from earliest');
      assert.deepEqual(
        events.map((e) => [e.partition, e.sequenceNumber, e.deviceId, e.body.toString()]),
        [0, 1, 2].map((n) => [PARTITION, n, DEVICE, `{"n":${n}}`]),
      );
      const [first] = events;
      assert.deepEqual(first!.properties, { level: 'L0' });
      assert.deepEqual(first!.system, { messageId: 'm0', correlationId: 'c0', contentType: 'application/json' });
      assert.equal(first!.annotations['iothub-message-source'], 'Telemetry');
      assert.equal(first!.annotations['iothub-connection-device-id'], DEVICE);
      assert.ok(first!.enqueuedTime instanceof Date && first!.enqueuedTime.getTime() >= sentAt - 5000);
      assert.equal(typeof first!.offset, 'string');
    } finally {
      await it.return();
    }
  });

  test('from a sequence number (inclusive or not) and from a time, on chosen partitions', T, async () => {
    const after1 = service.readEvents({ from: { sequenceNumber: 1 }, partitions: [PARTITION] });
    const inclusive = service.readEvents({ from: { sequenceNumber: 1, inclusive: true }, partitions: [PARTITION] });
    try {
      assert.deepEqual(
        (await take(after1, 1, 'after 1')).map((e) => e.sequenceNumber),
        [2],
      );
      assert.deepEqual(
        (await take(inclusive, 2, 'from 1')).map((e) => e.sequenceNumber),
        [1, 2],
      );
    } finally {
      await after1.return();
      await inclusive.return();
    }
    const all = service.readEvents({ from: 'earliest', partitions: [PARTITION] });
    const [e0] = await take(all, 1, 'the first event');
    await all.return();
    const fromTime = service.readEvents({ from: new Date(e0!.enqueuedTime.getTime() - 1), partitions: [PARTITION] });
    try {
      assert.deepEqual(
        (await take(fromTime, 3, 'from a time')).map((e) => e.sequenceNumber),
        [0, 1, 2],
      );
    } finally {
      await fromTime.return();
    }
  });

  test('a hub restart: reading resumes after the last event given, none twice', T, async () => {
    const it = service.readEvents({ from: 'earliest', partitions: [PARTITION] });
    try {
      assert.deepEqual(
        (await take(it, 3, 'before the restart')).map((e) => e.sequenceNumber),
        [0, 1, 2],
      );
      await hub.restart();
      await send(['{"n":3}', '{"n":4}'], 3);
      assert.deepEqual(
        (await take(it, 2, 'after the restart')).map((e) => [e.sequenceNumber, e.body.toString()]),
        [
          [3, '{"n":3}'],
          [4, '{"n":4}'],
        ],
      );
    } finally {
      await it.return();
    }
  });

  test('from latest (the default), over AMQP-WebSocket: only events sent after it started', T, async () => {
    const ws = ServiceClient.fromConnectionString(hub.connectionString('service'), { ca, transport: 'amqp-ws' });
    const it = ws.readEvents();
    try {
      const first = it.next();
      // When the reader's links are attached is not observable: send until one arrives.
      let k = 0;
      let got: IteratorResult<TelemetryEvent> | undefined;
      while (!got) {
        await send([`new ${k}`], 100 + k);
        k++;
        got = await Promise.race([first, new Promise<undefined>((r) => setTimeout(r, 500))]);
        assert.ok(k < 40, 'no event arrived');
      }
      assert.equal(got.done, false);
      assert.match((got.value as TelemetryEvent).body.toString(), /^new \d+$/);
      assert.ok((got.value as TelemetryEvent).sequenceNumber >= 5);
    } finally {
      await it.return();
      await ws.close();
    }
  });

  test(
    'an unknown consumer group is NotFound; a policy without ServiceConnect IotHubUnauthorizedAccess',
    T,
    async () => {
      const unknown = service.readEvents({ consumerGroup: 'no-such-group', from: 'earliest' });
      await assert.rejects(withTimeout(unknown.next(), 20_000, 'the refusal'), (err) => isFerryError(err, 'NotFound'));
      const reader = ServiceClient.fromConnectionString(hub.connectionString('registryRead'), { ca, retry: noRetry });
      try {
        await assert.rejects(
          withTimeout(reader.readEvents({ from: 'earliest' }).next(), 20_000, 'the refusal'),
          (err) => isFerryError(err, 'IotHubUnauthorizedAccess'),
        );
      } finally {
        await reader.close();
      }
      await assert.rejects(service.readEvents({ from: 'yesterday' as never }).next(), (err) =>
        isFerryError(err, 'ArgumentInvalid'),
      );
    },
  );
});
