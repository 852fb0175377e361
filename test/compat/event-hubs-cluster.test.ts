/**
 * The Event Hubs-compatible endpoint on two real hub processes sharing one PostgreSQL schema
 * (issue 24): a reader attached to node B with @azure/event-hubs, already waiting at the end of
 * the partition, is woken by telemetry committed through node A (the telemetry signal over
 * LISTEN/NOTIFY; node B's reader does not poll the store), and reads every event. Node A killed
 * (SIGKILL) while official clients send through it as fast as it acknowledges: node B serves
 * every acknowledged event, in each device's order.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EventHubConsumerClient, type ReceivedEventData } from '@azure/event-hubs';
import { parseHubConnectionString } from '@ferry/common';
import { partitionOf } from '@ferry/hub';
import { type HubProcess, startHub } from './harness.js';
import { closeDevice } from './helpers/official-device.js';
import { clusterStore, dropSchema } from './helpers/postgres.js';
import { type DeviceTransport, openDevice, telemetry } from './helpers/telemetry.js';
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

/** Every event of every partition on `hub`, from earliest to the last enqueued one. */
async function everyEvent(hub: HubProcess): Promise<ReceivedEventData[]> {
  const consumer = new EventHubConsumerClient('$Default', eventHubsAt(hub));
  const all: ReceivedEventData[] = [];
  try {
    for (const id of await consumer.getPartitionIds()) {
      const props = await consumer.getPartitionProperties(id);
      if (props.isEmpty) continue;
      const got: ReceivedEventData[] = [];
      const sub = consumer.subscribe(
        id,
        { processEvents: async (events) => void got.push(...events), processError: async () => {} },
        { startPosition: { offset: '-1' }, maxWaitTimeInSeconds: 1 },
      );
      try {
        await waitFor(() => (got.at(-1)?.sequenceNumber === props.lastEnqueuedSequenceNumber ? true : undefined), {
          timeoutMs: 30_000,
          what: `partition ${id} up to ${props.lastEnqueuedSequenceNumber}`,
        });
      } finally {
        await sub.close();
      }
      all.push(...got);
    }
  } finally {
    await consumer.close();
  }
  return all;
}

test(
  'kill -9 of node A while devices send through it: node B serves every acknowledged event, in order',
  T,
  async () => {
    const transports: DeviceTransport[] = ['Mqtt', 'Amqp', 'Http'];
    const acked = new Map<string, string[]>();
    const clients = await Promise.all(
      transports.map(async (t) => {
        const id = `kill-${t.toLowerCase()}`;
        acked.set(id, []);
        return { id, client: await openDevice(a, await a.createDevice(id), t) };
      }),
    );
    let killed = false;
    const total = () => [...acked.values()].reduce((n, ids) => n + ids.length, 0);
    const sending = clients.map(async ({ id, client }) => {
      for (let i = 0; !killed; i++) {
        const messageId = `${id}-${i}`;
        try {
          await withTimeout(client.sendEvent(telemetry(`event ${i}`, { messageId })), 20_000, `${id} sendEvent`);
        } catch {
          return; // node A is gone: this one was never acknowledged
        }
        if (!killed) acked.get(id)!.push(messageId);
      }
    });
    try {
      await waitFor(() => (total() >= 60 ? true : undefined), { timeoutMs: 60_000, what: '60 acknowledged events' });
      // Acknowledgements that arrive after this point are not counted: only those before the kill.
      killed = true;
      await a.kill();
      await Promise.race([Promise.all(sending), new Promise((r) => setTimeout(r, 5000))]);
    } finally {
      killed = true;
      await Promise.all(clients.map(({ client }) => closeDevice(client)));
    }

    const stored = await everyEvent(b);
    for (const [id, ids] of acked) {
      assert.ok(ids.length > 0, `${id} had events acknowledged`);
      const mine = stored
        .filter((e) => e.systemProperties?.['iothub-connection-device-id'] === id)
        .map((e) => String(e.messageId));
      assert.deepEqual(mine.slice(0, ids.length), ids, `${id}: every acknowledged event, in order`);
    }
    await a.restart();
  },
);
