/**
 * The peer bench's load side split over several processes (merge.ts, report.ts): the shares add up
 * to what one process had, and the merged result is what one process tracking everything would
 * have answered (latency samples, unique, lost, duplicates), with each process's CPU kept apart
 * for the table and the refusal.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type DeliveryPart,
  deliveriesTo,
  mergeDeliveries,
  mergeSends,
  type SendPart,
  shares,
  slices,
} from './merge.js';
import { peerTable, saturatedLoads } from './report.js';
import type { RunResult } from './scenarios.js';

/** A part over `total` numbers in which the numbers at `at` arrived with those latencies. */
function part(total: number, at: Record<number, number>, extra: Partial<DeliveryPart> = {}): DeliveryPart {
  const seen = new Uint8Array(total);
  const latencies = new Float64Array(total);
  for (const [i, ms] of Object.entries(at)) {
    seen[Number(i)] = 1;
    latencies[Number(i)] = ms;
  }
  return { seen, latencies, unique: Object.keys(at).length, duplicates: 0, tLast: 0n, cpu: 0, ...extra };
}

test('shares split a whole number evenly, larger first, and add up to it', () => {
  assert.deepEqual(shares(200, 3), [67, 67, 66]);
  assert.deepEqual(shares(5, 1), [5]);
  assert.deepEqual(shares(1, 2), [1, 0]);
  assert.throws(() => shares(10, 0));
  assert.deepEqual(slices(5, 2), [
    { from: 0, to: 3 },
    { from: 3, to: 5 },
  ]);
});

test('deliveriesTo counts the round robin share of a slice of the fleet', () => {
  // 10 devices, 25 messages: devices 0-4 get 3 each, 5-9 get 2 each.
  assert.equal(deliveriesTo(25, 10, 0, 5), 15);
  assert.equal(deliveriesTo(25, 10, 5, 10), 10);
  assert.equal(deliveriesTo(25, 10, 3, 7), 3 + 3 + 2 + 2);
  for (const [total, n, p] of [
    [100_000, 1000, 3],
    [7, 10, 4],
    [1001, 7, 2],
  ] as const) {
    const counts = slices(n, p).map(({ from, to }) => deliveriesTo(total, n, from, to));
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      total,
    );
  }
});

test('two fleet processes merge into the result one process would give', () => {
  const total = 200;
  const latency = (i: number) => (i % 97) + 0.5;
  const even: Record<number, number> = {};
  const odd: Record<number, number> = {};
  const all: Record<number, number> = {};
  // Number 7 never arrived; the rest went to one process each.
  for (let i = 0; i < total; i++) {
    if (i === 7) continue;
    (i % 2 ? odd : even)[i] = latency(i);
    all[i] = latency(i);
  }
  const merged = mergeDeliveries([
    part(total, even, { tLast: 5n, cpu: 41, duplicates: 2 }),
    part(total, odd, { tLast: 9n, cpu: 37 }),
  ]);
  const single = mergeDeliveries([part(total, all, { tLast: 9n, duplicates: 2 })]);
  assert.equal(merged.unique, 199);
  assert.equal(merged.duplicates, 2);
  assert.equal(merged.tLast, 9n);
  assert.deepEqual([merged.p50, merged.p99, merged.p999], [single.p50, single.p99, single.p999]);
  assert.deepEqual(merged.cpu, [41, 37]);
});

test('a number that reached two processes counts once, the second as a duplicate', () => {
  const merged = mergeDeliveries([part(3, { 0: 1, 1: 2 }), part(3, { 1: 50, 2: 3 })]);
  assert.equal(merged.unique, 3);
  assert.equal(merged.duplicates, 1);
  // The first process's latency for number 1 (2 ms), not the second's (50 ms).
  assert.equal(merged.p999, 3);
});

test('sender parts merge: first start, last end, counts summed, each CPU kept', () => {
  const a: SendPart = { t0: 10n, tSent: 90n, accepted: 60, errors: 0, firstError: undefined, cpu: 55 };
  const b: SendPart = { t0: 12n, tSent: 95n, accepted: 39, errors: 1, firstError: 'released', cpu: 61 };
  assert.deepEqual(mergeSends([a, b]), {
    t0: 10n,
    tSent: 95n,
    accepted: 99,
    errors: 1,
    firstError: 'released',
    cpu: [55, 61],
  });
});

test('the table gives each role max and sum; the refusal names the saturated process', () => {
  const run = (fleet: number[], sender: number[]): RunResult =>
    new Map([['a fan-out', { rate: 1000, rssMiB: 10, lost: 0, dup: 0, fleetCpu: fleet, senderCpu: sender }]]);
  const results = new Map([
    ['Ferry' as const, [run([40, 45], [30, 20])]],
    ['Mosquitto' as const, [run([60, 95], [50, 52])]],
  ]);
  const table = peerTable(results);
  assert.match(table, /fleet CPU % max \| fleet CPU % sum \| sender CPU % max \| sender CPU % sum/);
  assert.match(table, /\| a fan-out \| Ferry \(1 runs\) \| 1,000 \| 10 \| 0 \| 0 \| 45 \| 85 \| 30 \| 50 \|/);
  assert.match(table, /\| a fan-out \| Mosquitto \(1 runs\) \| 1,000 \| 10 \| 0 \| 0 \| 95 \| 155 \| 52 \| 102 \|/);
  assert.deepEqual(saturatedLoads(results, 90), [
    'Mosquitto run 1, "a fan-out": fleet (or publishers) process 2 of 2 used 95 % of one core',
  ]);
  assert.deepEqual(saturatedLoads(results, 99), []);
});
