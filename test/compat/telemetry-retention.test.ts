/**
 * Retention of the event log end to end (issue 24): the hub's scheduler removes events older
 * than events.retentionMs, and the oldest events beyond each partition's share of
 * events.maxBytes; an unchanged @azure/event-hubs reader from `earliest` then starts at the first
 * event kept, and $management's begin_sequence_number says where that is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import { parseHubConnectionString } from '@ferry/common';
import { partitionOf } from '@ferry/hub';
import type { Client } from 'azure-iot-device';
import { type HubProcess, startHub } from './harness.js';
import { closeDevice } from './helpers/official-device.js';
import { openDevice, telemetry } from './helpers/telemetry.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const T = { timeout: 120_000 };
const PARTITIONS = 4;

function eventHubsConnectionString(hub: HubProcess): string {
  const cs = parseHubConnectionString(hub.connectionString('service'));
  return `Endpoint=sb://${cs.hostName}/;SharedAccessKeyName=service;SharedAccessKey=${cs.sharedAccessKey};EntityPath=${cs.hostName}`;
}

/** Every event of the partition from earliest, read until the one numbered `last` arrived. */
async function readFromEarliest(hub: HubProcess, partition: string, last: number): Promise<ReceivedEventData[]> {
  const client = new EventHubConsumerClient('$Default', eventHubsConnectionString(hub));
  const got: ReceivedEventData[] = [];
  const errors: Error[] = [];
  const sub = client.subscribe(
    partition,
    {
      processEvents: async (events) => void got.push(...events),
      processError: async (err) => void errors.push(err),
    },
    { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
  );
  try {
    await waitFor(() => (got.at(-1)?.sequenceNumber === last ? true : undefined), {
      timeoutMs: 30_000,
      what: `event ${last} on partition ${partition} (errors: ${errors.map((e) => e.message).join('; ')})`,
    });
  } finally {
    await sub.close();
    await client.close();
  }
  return got;
}

async function beginSequenceNumber(hub: HubProcess, partition: string): Promise<number> {
  const client = new EventHubConsumerClient('$Default', eventHubsConnectionString(hub));
  try {
    return (await client.getPartitionProperties(partition)).beginningSequenceNumber;
  } finally {
    await client.close();
  }
}

async function sendAll(device: Client, bodies: Array<string | Buffer>): Promise<void> {
  for (const [i, body] of bodies.entries()) {
    await withTimeout(device.sendEvent(telemetry(body, { messageId: `m${i}` })), 20_000, `sendEvent ${i}`);
  }
}

describe('events older than events.retentionMs are removed', () => {
  let hub: HubProcess;
  const deviceId = 'retention-time';
  const partition = String(partitionOf(deviceId, PARTITIONS));

  before(async () => {
    // Long enough for the new events to be read before they expire too, on a busy machine.
    hub = await startHub({ config: { events: { retentionMs: 8000, retentionCheckMs: 200 } } });
  });

  after(async () => {
    await hub?.stop();
  });

  test('a reader from earliest starts after the expired events', T, async () => {
    const device = await openDevice(hub, await hub.createDevice(deviceId), 'Mqtt');
    try {
      await sendAll(device, ['old 0', 'old 1', 'old 2']);
      await waitFor(async () => ((await beginSequenceNumber(hub, partition)) === 3 ? true : undefined), {
        timeoutMs: 30_000,
        what: 'retention to remove the three old events',
      });
      await sendAll(device, ['new 3', 'new 4']);
    } finally {
      await closeDevice(device);
    }
    const events = await readFromEarliest(hub, partition, 4);
    assert.deepEqual(
      events.map((e) => [e.sequenceNumber, Buffer.from(e.body as Uint8Array).toString()]),
      [
        [3, 'new 3'],
        [4, 'new 4'],
      ],
    );
  });
});

describe('events beyond events.maxBytes are removed, oldest first', () => {
  let hub: HubProcess;
  const deviceId = 'retention-size';
  const partition = String(partitionOf(deviceId, PARTITIONS));
  // 1 MiB over 4 partitions: each keeps 256 KiB, so of 40 events of 16 KiB at most 16 stay.
  const SIZE = 16 * 1024;
  const COUNT = 40;

  before(async () => {
    hub = await startHub({ config: { events: { maxBytes: 1024 * 1024, retentionCheckMs: 200 } } });
  });

  after(async () => {
    await hub?.stop();
  });

  test(
    'the partition keeps its share, the newest events; a reader from earliest starts at the first kept',
    T,
    async () => {
      const device = await openDevice(hub, await hub.createDevice(deviceId), 'Amqp');
      try {
        await sendAll(
          device,
          Array.from({ length: COUNT }, (_, i) => Buffer.concat([Buffer.from(`${i}:`), Buffer.alloc(SIZE, 0x61)])),
        );
      } finally {
        await closeDevice(device);
      }
      let begin = 0;
      await waitFor(
        async () => {
          begin = await beginSequenceNumber(hub, partition);
          return begin >= COUNT - (256 * 1024) / SIZE ? true : undefined;
        },
        { timeoutMs: 30_000, what: 'retention to bring the partition under its share of events.maxBytes' },
      );
      const events = await readFromEarliest(hub, partition, COUNT - 1);
      assert.equal(events[0]!.sequenceNumber, begin, 'the reader starts at the first event kept');
      assert.deepEqual(
        events.map((e) => e.sequenceNumber),
        Array.from({ length: COUNT - begin }, (_, i) => begin + i),
        'then every newer event, none missing',
      );
      assert.ok(events.length > 0 && events.length <= (256 * 1024) / SIZE);
      assert.ok(
        Buffer.from(events.at(-1)!.body as Uint8Array)
          .toString()
          .startsWith(`${COUNT - 1}:`),
      );
    },
  );
});
