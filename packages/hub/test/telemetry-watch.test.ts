/** watchTelemetry on its own, over an in-memory log: what it shows, filters and skips. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_BEHIND, type WatchedTelemetry, watchTelemetry } from '../src/gateways/http/telemetry-watch.js';
import type { StoredEvent } from '../src/store/event-log.js';
import { partitionOf } from '../src/telemetry/partition.js';

const PARTITIONS = 2;

/** A log of PARTITIONS partitions; append() signals as the domain does after a commit. */
function memoryLog() {
  const log: StoredEvent[][] = Array.from({ length: PARTITIONS }, () => []);
  const listeners = new Set<(p: number) => void>();
  const telemetry: WatchedTelemetry = {
    partitions: PARTITIONS,
    onAppended(fn) {
      listeners.add(fn);
      return () => void listeners.delete(fn);
    },
    read: async (p, from, limit) => log[p]!.filter((e) => e.sequenceNumber >= from).slice(0, limit),
    seek: async (p) => log[p]!.length,
    partitionInfo: async (p) => ({
      partition: p,
      beginSequenceNumber: 0,
      lastSequenceNumber: log[p]!.length - 1,
      lastOffset: -1,
      lastEnqueuedTime: 0,
      empty: log[p]!.length === 0,
    }),
  };
  const append = (deviceId: string, n = 1) => {
    const p = partitionOf(deviceId, PARTITIONS);
    for (let i = 0; i < n; i++) {
      const sequenceNumber = log[p]!.length;
      log[p]!.push({
        partition: p,
        sequenceNumber,
        offset: sequenceNumber,
        enqueuedTime: 0,
        deviceId,
        system: {},
        properties: {},
        annotations: {},
        body: Buffer.from(`${deviceId}-${sequenceNumber}`),
      });
    }
    for (const l of listeners) l(p);
  };
  return { telemetry, append, listeners };
}

/** Two device ids in the same partition. */
function samePartitionPair(): [string, string] {
  const first = 'dev-0';
  for (let i = 1; ; i++) {
    if (partitionOf(`dev-${i}`, PARTITIONS) === partitionOf(first, PARTITIONS)) return [first, `dev-${i}`];
  }
}

function watch(telemetry: WatchedTelemetry, deviceId?: string) {
  const seen: string[] = [];
  const skipped: number[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const stop = watchTelemetry(telemetry, {
    deviceId,
    onReady: ready,
    onEvent: (e) => seen.push(e.body.toString()),
    onSkipped: (_p, n) => skipped.push(n),
    onError: (err) => assert.fail(err as Error),
  });
  return { seen, skipped, isReady, stop };
}

const settle = () => new Promise((r) => setImmediate(r));

test('shows only what is appended after it is ready, and only the watched device', async () => {
  const [a, b] = samePartitionPair();
  const { telemetry, append, listeners } = memoryLog();
  append(a);
  const w = watch(telemetry, a);
  await w.isReady;
  append(a);
  append(b);
  append(a);
  for (let i = 0; i < 5; i++) await settle();
  assert.deepEqual(w.seen, [`${a}-1`, `${a}-3`]);
  w.stop();
  assert.equal(listeners.size, 0, 'stopping unsubscribes');
});

test('hub-wide: every partition; more than MAX_BEHIND behind skips the older events and counts them', async () => {
  const { telemetry, append } = memoryLog();
  const w = watch(telemetry);
  await w.isReady;
  append('x');
  append('y');
  for (let i = 0; i < 5; i++) await settle();
  assert.deepEqual(w.seen.sort(), ['x-0', 'y-0'].sort());
  w.seen.length = 0;
  append('x', MAX_BEHIND + 7);
  for (let i = 0; i < 20; i++) await settle();
  assert.deepEqual(w.skipped, [7]);
  assert.equal(w.seen.length, MAX_BEHIND);
  assert.equal(w.seen.at(-1), `x-${MAX_BEHIND + 7}`);
  w.stop();
});
