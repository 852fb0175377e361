/**
 * The telemetry event log's contract (store/event-log.ts), run on every adapter: positions per
 * partition, reading from a position, partition facts, retention by time and size, consumer groups.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { NewEvent } from '../src/store/event-log.js';
import type { Store } from '../src/store/types.js';

const T0 = Date.UTC(2026, 0, 1);

function event(partition: number, body: string, deviceId = 'd1'): NewEvent {
  return {
    partition,
    deviceId,
    system: { 'message-id': `m-${body}` },
    properties: { k: body },
    annotations: { 'iothub-connection-device-id': deviceId },
    body: Buffer.from(body),
  };
}

export function runEventLogContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`event log contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await makeStore();
    });
    afterEach(async () => {
      await store.close();
    });

    test('each partition numbers its events from 0; offsets count the bytes before; times never go back', async () => {
      const first = await store.appendEvents([event(0, 'a'), event(1, 'b'), event(0, 'cc')], T0);
      assert.deepEqual(
        first.map((p) => [p.partition, p.sequenceNumber, p.enqueuedTime]),
        [
          [0, 0, T0],
          [1, 0, T0],
          [0, 1, T0],
        ],
      );
      assert.equal(first[0]!.offset, 0);
      assert.ok(first[2]!.offset > first[0]!.offset);
      // A clock that went back does not make an earlier enqueued time.
      const [late] = await store.appendEvents([event(0, 'd')], T0 - 5000);
      assert.deepEqual([late!.sequenceNumber, late!.enqueuedTime], [2, T0]);
      assert.ok(late!.offset > first[2]!.offset);
    });

    test('events read back whole, in order, from any sequence number', async () => {
      await store.appendEvents([event(2, 'x', 'dev-x'), event(2, 'y'), event(2, 'z')], T0);
      const all = await store.readEvents(2, 0, 10);
      assert.deepEqual(
        all.map((e) => [e.sequenceNumber, e.body.toString(), e.deviceId]),
        [
          [0, 'x', 'dev-x'],
          [1, 'y', 'd1'],
          [2, 'z', 'd1'],
        ],
      );
      assert.ok(Buffer.isBuffer(all[0]!.body));
      assert.deepEqual(all[0]!.system, { 'message-id': 'm-x' });
      assert.deepEqual(all[0]!.properties, { k: 'x' });
      assert.deepEqual(all[0]!.annotations, { 'iothub-connection-device-id': 'dev-x' });
      assert.equal(all[0]!.enqueuedTime, T0);
      assert.deepEqual(
        (await store.readEvents(2, 1, 1)).map((e) => e.body.toString()),
        ['y'],
      );
      assert.deepEqual(await store.readEvents(2, 3, 10), []);
      assert.deepEqual(await store.readEvents(3, 0, 10), []);
    });

    test('seek: by sequence number, offset and enqueued time, inclusive or not, and latest', async () => {
      await store.appendEvents([event(0, 'a')], T0);
      await store.appendEvents([event(0, 'b')], T0 + 1000);
      const [, b] = await store.readEvents(0, 0, 10);
      assert.equal(await store.seekEvents(0, { kind: 'sequence', value: 1, inclusive: true }), 1);
      assert.equal(await store.seekEvents(0, { kind: 'sequence', value: 1, inclusive: false }), 2);
      assert.equal(await store.seekEvents(0, { kind: 'sequence', value: -1, inclusive: false }), 0);
      assert.equal(await store.seekEvents(0, { kind: 'offset', value: b!.offset, inclusive: true }), 1);
      assert.equal(await store.seekEvents(0, { kind: 'offset', value: b!.offset, inclusive: false }), 2);
      assert.equal(await store.seekEvents(0, { kind: 'offset', value: -1, inclusive: false }), 0);
      assert.equal(await store.seekEvents(0, { kind: 'time', value: T0, inclusive: false }), 1);
      assert.equal(await store.seekEvents(0, { kind: 'time', value: T0, inclusive: true }), 0);
      assert.equal(await store.seekEvents(0, { kind: 'latest' }), 2);
      assert.equal(await store.seekEvents(1, { kind: 'latest' }), 0);
    });

    test('partition facts, empty and not', async () => {
      assert.deepEqual(await store.partitionInfo(1), {
        partition: 1,
        beginSequenceNumber: 0,
        lastSequenceNumber: -1,
        lastOffset: -1,
        lastEnqueuedTime: 0,
        empty: true,
      });
      const [, second] = await store.appendEvents([event(1, 'a'), event(1, 'b')], T0);
      assert.deepEqual(await store.partitionInfo(1), {
        partition: 1,
        beginSequenceNumber: 0,
        lastSequenceNumber: 1,
        lastOffset: second!.offset,
        lastEnqueuedTime: T0,
        empty: false,
      });
    });

    test('retention: events older than the cut-off go, then the oldest beyond the size cap; numbering goes on', async () => {
      await store.appendEvents([event(0, 'old1'), event(0, 'old2')], T0);
      await store.appendEvents([event(0, 'new1'), event(0, 'new2'), event(0, 'new3')], T0 + 10_000);
      const huge = Number.MAX_SAFE_INTEGER;
      assert.equal(await store.trimEvents(4, { before: T0 + 1, maxBytesPerPartition: huge, limit: 100 }), 2);
      let info = await store.partitionInfo(0);
      assert.deepEqual([info.beginSequenceNumber, info.lastSequenceNumber, info.empty], [2, 4, false]);
      assert.equal(await store.seekEvents(0, { kind: 'offset', value: -1, inclusive: false }), 2);
      assert.equal(await store.seekEvents(0, { kind: 'sequence', value: 0, inclusive: true }), 2);
      // The size cap keeps the newest events whose offsets lie within it of the end.
      const kept = await store.readEvents(0, 0, 10);
      const end = kept.at(-1)!;
      const oneEvent = end.offset - kept.at(-2)!.offset;
      assert.equal(await store.trimEvents(4, { before: 0, maxBytesPerPartition: oneEvent * 2, limit: 100 }), 1);
      assert.deepEqual(
        (await store.readEvents(0, 0, 10)).map((e) => e.body.toString()),
        ['new2', 'new3'],
      );
      // Everything gone: empty, and the next event goes on from the last number.
      await store.trimEvents(4, { before: T0 + 20_000, maxBytesPerPartition: huge, limit: 100 });
      info = await store.partitionInfo(0);
      assert.deepEqual([info.beginSequenceNumber, info.lastSequenceNumber, info.empty], [5, 4, true]);
      const [next] = await store.appendEvents([event(0, 'after')], T0 + 30_000);
      assert.equal(next!.sequenceNumber, 5);
    });

    test('a trim deletes at most `limit` events per partition per call', async () => {
      await store.appendEvents([event(0, '1'), event(0, '2'), event(0, '3')], T0);
      assert.equal(await store.trimEvents(1, { before: T0 + 1, maxBytesPerPartition: 1e12, limit: 2 }), 2);
      assert.equal(await store.trimEvents(1, { before: T0 + 1, maxBytesPerPartition: 1e12, limit: 2 }), 1);
    });

    test('consumer groups: made once (names case-insensitive), listed, deleted', async () => {
      assert.equal(await store.insertConsumerGroup({ name: 'analytics', createdAt: T0 }), true);
      assert.equal(await store.insertConsumerGroup({ name: 'Analytics', createdAt: T0 }), false);
      assert.equal(await store.insertConsumerGroup({ name: 'archive', createdAt: T0 + 1 }), true);
      assert.deepEqual(await store.listConsumerGroups(), [
        { name: 'analytics', createdAt: T0 },
        { name: 'archive', createdAt: T0 + 1 },
      ]);
      assert.equal(await store.deleteConsumerGroup('archive'), true);
      assert.equal(await store.deleteConsumerGroup('archive'), false);
      assert.deepEqual(
        (await store.listConsumerGroups()).map((g) => g.name),
        ['analytics'],
      );
    });
  });
}
