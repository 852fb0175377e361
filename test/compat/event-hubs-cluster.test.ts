/**
 * The Event Hubs-compatible endpoint on two real hub processes sharing one PostgreSQL schema
 * (issue 24): a reader attached to node B with @azure/event-hubs, already waiting at the end of
 * the partition, is woken by telemetry committed through node A (the telemetry signal over
 * LISTEN/NOTIFY; node B's reader does not poll the store), and reads every event.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EventHubConsumerClient, type ReceivedEventData } from '@azure/event-hubs';
import { parseHubConnectionString } from '@ferry/common';
import { partitionOf } from '@ferry/hub';
import { type HubProcess, startHub } from './harness.js';
import { clusterStore, dropSchema } from './helpers/postgres.js';
import { openDevice, telemetry } from './helpers/telemetry.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const T = { timeout: 90_000 };
const store = clusterStore('eventhubs');
let a: HubProcess;
let b: HubProcess;
let failed = false;

/** The Event Hubs connection string of node B (as `ferry hub connection-string --event-hubs` prints it there). */
function eventHubsAt(hub: HubProcess): string {
  const cs = parseHubConnectionString(hub.connectionString('service'));
  return `Endpoint=sb://${cs.hostName}/;SharedAccessKeyName=service;SharedAccessKey=${cs.sharedAccessKey};EntityPath=${cs.hostName}`;
}

before(async () => {
  [a, b] = await Promise.all([startHub({ store }), startHub({ store })]);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (!failed) await dropSchema(store.schema);
});

test('telemetry sent through node A wakes a reader waiting on node B', T, async (t) => {
  t.after(() => {
    if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
  });
  const deviceId = 'eh-cluster-dev';
  const cs = await a.createDevice(deviceId);
  const partition = String(partitionOf(deviceId, 4));
  const consumer = new EventHubConsumerClient('$Default', eventHubsAt(b));
  const got: ReceivedEventData[] = [];
  const errors: Error[] = [];
  let attached = false;
  const sub = consumer.subscribe(
    partition,
    {
      processInitialize: async () => {
        attached = true;
      },
      processEvents: async (events) => {
        got.push(...events);
      },
      processError: async (err) => {
        errors.push(err);
      },
    },
    // A long wait: the client grants no new credit meanwhile, so only node B's wake-up sends the events.
    { startPosition: { offset: '-1' }, maxWaitTimeInSeconds: 60 },
  );
  try {
    // The reader is attached and has found the partition empty: from here only a wake-up brings events.
    await waitFor(() => (attached ? true : undefined), { timeoutMs: 20_000, what: 'the reader attached on node B' });
    const props = await consumer.getPartitionProperties(partition);
    assert.equal(props.isEmpty, true);

    const device = await openDevice(a, cs, 'Mqtt');
    try {
      for (let i = 0; i < 3; i++)
        await withTimeout(
          device.sendEvent(telemetry(`reading ${i}`, { messageId: `c${i}` })),
          20_000,
          'sendEvent on A',
        );
    } finally {
      await device.close();
    }
    await waitFor(() => (got.length >= 3 ? true : undefined), {
      timeoutMs: 5_000,
      what: `3 events through node B (errors: ${errors.map((e) => e.message).join('; ')})`,
    });
    assert.deepEqual(
      got.map((e) => [
        e.messageId,
        Buffer.from(e.body as Uint8Array).toString(),
        e.systemProperties?.['iothub-connection-device-id'],
      ]),
      [0, 1, 2].map((i) => [`c${i}`, `reading ${i}`, deviceId]),
    );
  } finally {
    await sub.close();
    await consumer.close();
  }
});

test('node B serves what node A accepted: $management counts events appended through A', T, async () => {
  const deviceId = 'eh-cluster-dev';
  const consumer = new EventHubConsumerClient('$Default', eventHubsAt(b));
  try {
    const p = await consumer.getPartitionProperties(String(partitionOf(deviceId, 4)));
    assert.equal(p.lastEnqueuedSequenceNumber, 2);
  } finally {
    await consumer.close();
  }
});
