/** WaitingReceivers hands a commit's leases to their receivers after the commit, in lease order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Delivery } from '@ferry/common';
import { WaitingReceivers } from '../src/engine/waiting-receivers.js';
import type { QueueOp, QueueOpResult } from '../src/store/types.js';

function delivery(deviceId: string, sequenceNumber: number): Delivery {
  return {
    deviceId,
    sequenceNumber,
    expiryTimeUtc: 2,
    enqueuedTimeUtc: 1,
    properties: {},
    body: Buffer.from('x'),
    deliveryCount: 0,
    lockToken: `t${sequenceNumber}`,
    lockedUntil: 3,
    redelivered: false,
  };
}

/** Receivers of three devices, parked; the leases the group would add, with their result handlers. */
function parked(onDeliveries: (deviceId: string, batch: Delivery[]) => void) {
  const waiting = new WaitingReceivers(() => assert.fail('no lease outside the group'));
  for (const deviceId of ['a', 'b', 'c']) {
    waiting.open(deviceId, { onDeliveries: (batch) => onDeliveries(deviceId, batch), onError: assert.fail }).want(1);
  }
  const added: Array<{ op: QueueOp; onResult: (r: QueueOpResult | Error) => void }> = [];
  const enqueues = ['a', 'b', 'c'].map(
    (deviceId): QueueOp => ({
      kind: 'enqueue',
      message: { deviceId, expiryTimeUtc: 2, properties: {}, body: Buffer.alloc(0) },
    }),
  );
  waiting.extendGroup(enqueues, (op, onResult) => added.push({ op, onResult }));
  return added;
}

/** The commit answers each added lease with one message (sequence numbers 1, 2, 3). */
function answerAll(added: ReturnType<typeof parked>): void {
  for (const [i, a] of added.entries()) {
    a.onResult({ ok: true, deliveries: [delivery((a.op as { deviceId: string }).deviceId, i + 1)] });
  }
}

test("a commit's direct leases reach their receivers after it, each once, in lease order", async () => {
  const got: string[] = [];
  const added = parked((deviceId, batch) => got.push(`${deviceId}:${batch.map((d) => d.sequenceNumber)}`));
  assert.deepEqual(
    added.map((a) => (a.op.kind === 'lease' ? a.op.deviceId : a.op.kind)),
    ['a', 'b', 'c'],
  );
  answerAll(added);
  assert.deepEqual(got, [], 'not while the commit is being answered');
  await Promise.resolve();
  assert.deepEqual(got, ['a:1', 'b:2', 'c:3']);
  // The next commit's leases are handed over again (nothing kept from the last).
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['a:1', 'b:2', 'c:3']);
});

test('one microtask per commit; a handler that throws does not keep the others from their messages', () => {
  const got: string[] = [];
  const added = parked((deviceId) => {
    if (deviceId === 'a') throw new Error('handler a');
    got.push(deviceId);
  });
  const queued: Array<() => void> = [];
  const original = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (fn) => void queued.push(fn);
  try {
    answerAll(added);
  } finally {
    globalThis.queueMicrotask = original;
  }
  assert.equal(queued.length, 1);
  // It throws out of its microtask, as each receiver's own microtask did.
  assert.throws(() => queued[0]!(), /handler a/);
  assert.deepEqual(got, ['b', 'c']);
});
