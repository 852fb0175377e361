/**
 * The built-in Event Hubs-compatible endpoint read by the npm package @azure/event-hubs, unchanged
 * (issue 24): EventHubConsumerClient over AMQP/TLS on the hub's port 5671, trusting the hub's CA
 * through NODE_EXTRA_CA_CERTS. Devices send with the official clients; every event comes back
 * with its body, properties, device id and enqueued time, from earliest, from an enqueued time
 * and from a sequence number, and $management answers for the hub and its partitions.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { EventHubConsumerClient, type ReceivedEventData } from '@azure/event-hubs';
import { parseHubConnectionString } from '@ferry/common';
import { partitionOf } from '@ferry/hub';
import { WebSocket } from 'ws';
import { CLI_BIN, type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { openDevice, telemetry } from './helpers/telemetry.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const T = { timeout: 90_000 };

/** What `ferry hub connection-string --event-hubs` prints for the hub (the user's way to get it). */
function eventHubsConnectionString(hub: HubProcess, policy = 'service'): string {
  const out = execFileSync(
    process.execPath,
    [CLI_BIN, 'hub', 'connection-string', '--event-hubs', '--policy', policy, '--data-dir', hub.dataDir],
    { encoding: 'utf8' },
  ).trim();
  const cs = parseHubConnectionString(hub.connectionString(policy));
  assert.equal(
    out,
    `Endpoint=sb://${cs.hostName}/;SharedAccessKeyName=${policy};SharedAccessKey=${cs.sharedAccessKey};EntityPath=${cs.hostName}`,
  );
  return out;
}

/** Reads one partition from `startPosition` until `count` events arrived (or the deadline). */
async function readPartition(
  client: EventHubConsumerClient,
  partitionId: string,
  startPosition: Parameters<EventHubConsumerClient['subscribe']>[2] extends infer O
    ? O extends { startPosition?: infer P }
      ? P
      : never
    : never,
  count: number,
): Promise<ReceivedEventData[]> {
  const got: ReceivedEventData[] = [];
  const errors: Error[] = [];
  const sub = client.subscribe(
    partitionId,
    {
      processEvents: async (events) => {
        got.push(...events);
      },
      processError: async (err) => {
        errors.push(err);
      },
    },
    { startPosition, maxWaitTimeInSeconds: 1 },
  );
  try {
    await waitFor(() => (got.length >= count ? true : undefined), {
      timeoutMs: 30_000,
      what: `${count} events on partition ${partitionId} (errors: ${errors.map((e) => e.message).join('; ')})`,
    });
  } finally {
    await sub.close();
  }
  return got;
}

describe('@azure/event-hubs reads the telemetry', () => {
  let hub: HubProcess;
  let consumer: EventHubConsumerClient;
  const deviceId = 'eh-dev';
  let partition: string;
  let sentAt = 0;

  before(async () => {
    hub = await startHub();
    const cs = await hub.createDevice(deviceId);
    partition = String(partitionOf(deviceId, 4));
    const device = await openDevice(hub, cs, 'Mqtt');
    sentAt = Date.now();
    for (let i = 0; i < 3; i++) {
      await withTimeout(
        device.sendEvent(
          telemetry(JSON.stringify({ n: i }), {
            messageId: `m${i}`,
            contentType: 'application/json',
            properties: { level: `L${i}` },
          }),
        ),
        20_000,
        'sendEvent',
      );
    }
    await device.close();
    consumer = new EventHubConsumerClient('$Default', eventHubsConnectionString(hub));
  });

  after(async () => {
    await consumer?.close();
    await hub?.stop();
  });

  test('$management: the hub and its partitions', T, async () => {
    const props = await consumer.getEventHubProperties();
    assert.deepEqual(props.partitionIds, ['0', '1', '2', '3']);
    assert.ok(props.createdOn instanceof Date);
    const p = await consumer.getPartitionProperties(partition);
    assert.equal(p.partitionId, partition);
    assert.equal(p.isEmpty, false);
    assert.equal(p.beginningSequenceNumber, 0);
    assert.equal(p.lastEnqueuedSequenceNumber, 2);
    assert.ok(p.lastEnqueuedOnUtc.getTime() >= sentAt - 5000);
  });

  test('from earliest: every event with its body, properties, device id and enqueued time', T, async () => {
    const events = await readPartition(consumer, partition, { offset: '-1' }, 3);
    assert.deepEqual(
      events.map((e) => e.body),
      [{ n: 0 }, { n: 1 }, { n: 2 }],
    );
    assert.deepEqual(
      events.map((e) => e.properties?.level),
      ['L0', 'L1', 'L2'],
    );
    assert.deepEqual(
      events.map((e) => e.messageId),
      ['m0', 'm1', 'm2'],
    );
    assert.deepEqual(
      events.map((e) => e.sequenceNumber),
      [0, 1, 2],
    );
    for (const e of events) {
      assert.equal(e.systemProperties?.['iothub-connection-device-id'], deviceId);
      assert.equal(e.systemProperties?.['iothub-message-source'], 'Telemetry');
      assert.ok(e.enqueuedTimeUtc.getTime() >= sentAt - 5000, 'enqueued time');
    }
  });

  test('over AMQP-WebSocket on 443 (webSocketOptions with the ws package): the same events', T, async () => {
    const overWs = new EventHubConsumerClient('$Default', eventHubsConnectionString(hub), {
      webSocketOptions: { webSocket: WebSocket as unknown as never },
    });
    try {
      assert.deepEqual((await overWs.getEventHubProperties()).partitionIds, ['0', '1', '2', '3']);
      const events = await readPartition(overWs, partition, { offset: '-1' }, 3);
      assert.deepEqual(
        events.map((e) => [e.sequenceNumber, e.body, e.systemProperties?.['iothub-connection-device-id']]),
        [0, 1, 2].map((n) => [n, { n }, deviceId]),
      );
    } finally {
      await overWs.close();
    }
  });

  test('from a sequence number and from an enqueued time', T, async () => {
    const after1 = await readPartition(consumer, partition, { sequenceNumber: 1 }, 1);
    assert.deepEqual(after1[0]?.body, { n: 2 });
    const inclusive = await readPartition(consumer, partition, { sequenceNumber: 1, isInclusive: true }, 2);
    assert.deepEqual(
      inclusive.slice(0, 2).map((e) => e.body),
      [{ n: 1 }, { n: 2 }],
    );
    const all = await readPartition(consumer, partition, { offset: '-1' }, 3);
    const fromTime = await readPartition(
      consumer,
      partition,
      { enqueuedOn: new Date(all[0]!.enqueuedTimeUtc.getTime() - 1) },
      3,
    );
    assert.deepEqual(
      fromTime.map((e) => e.sequenceNumber),
      [0, 1, 2],
    );
  });

  test('consumer groups: created, listed and deleted with the CLI; two groups read the same events', T, async () => {
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, [CLI_BIN, 'hub', 'consumer-group', ...args, '--data-dir', hub.dataDir], {
        encoding: 'utf8',
      }).trim();
    assert.equal(cli('create', 'analytics'), 'consumer group analytics created');
    assert.deepEqual(cli('list').split('\n'), ['$Default', 'analytics']);
    const second = new EventHubConsumerClient('analytics', eventHubsConnectionString(hub));
    try {
      const [first, other] = await Promise.all([
        readPartition(consumer, partition, { offset: '-1' }, 3),
        readPartition(second, partition, { offset: '-1' }, 3),
      ]);
      assert.deepEqual(
        first.slice(0, 3).map((e) => e.body),
        [{ n: 0 }, { n: 1 }, { n: 2 }],
      );
      assert.deepEqual(
        other.slice(0, 3).map((e) => e.body),
        [{ n: 0 }, { n: 1 }, { n: 2 }],
      );
      assert.equal(other[0]?.systemProperties?.['iothub-connection-device-id'], deviceId);
    } finally {
      await second.close();
    }
    assert.equal(cli('delete', 'analytics'), 'consumer group analytics deleted');
    assert.deepEqual(cli('list').split('\n'), ['$Default']);
  });

  test(
    'consumer groups REST: an existing name is 409 Conflict, a missing group 404 NotFound; the CLI says what to do',
    T,
    async () => {
      const groups = '/eventHubEndpoints/events/consumerGroups';
      const call = (method: string, name: string) =>
        hubRequest(hub, method, `${groups}/${name}?api-version=2021-04-12`, {
          headers: { authorization: serviceSas(hub, 'iothubowner') },
        });
      assert.equal((await call('PUT', 'twice')).status, 200);
      for (const name of ['twice', 'TWICE', '$Default']) {
        const again = await call('PUT', name);
        assert.equal(again.status, 409, name);
        assert.equal(again.headers['iothub-errorcode'], 'Conflict');
        assert.match(JSON.parse(again.body.toString()).Message, /^ErrorCode:Conflict;/);
      }
      const got = await call('GET', 'Twice');
      assert.equal(got.status, 200);
      assert.deepEqual(JSON.parse(got.body.toString()), { name: 'twice', properties: { name: 'twice' } });
      assert.equal((await call('DELETE', 'twice')).status, 204);
      for (const method of ['GET', 'DELETE']) {
        const missing = await call(method, 'twice');
        assert.equal(missing.status, 404, method);
        assert.equal(missing.headers['iothub-errorcode'], 'NotFound');
      }
      assert.equal((await call('PUT', '-bad')).status, 400);

      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [CLI_BIN, 'hub', 'consumer-group', ...args, '--data-dir', hub.dataDir], {
          encoding: 'utf8',
        });
      assert.equal(cli('create', 'cli-group').status, 0);
      const exists = cli('create', 'cli-group');
      assert.notEqual(exists.status, 0);
      assert.match(exists.stderr, /409: Conflict: .*already exists/);
      assert.match(exists.stderr, /consumer-group list/);
      assert.equal(cli('delete', 'cli-group').status, 0);
      const absent = cli('delete', 'cli-group');
      assert.notEqual(absent.status, 0);
      assert.match(absent.stderr, /404: NotFound: /);
      assert.match(absent.stderr, /consumer-group list/);
    },
  );
});
