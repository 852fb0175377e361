/**
 * The in-memory pending counts behind ferry_c2d_queue_messages and ferry_feedback_records_pending:
 * seeded by one store count, moved by committed results, recounted in the background (never at a
 * scrape), on an injected clock.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Delivery, FeedbackBatch } from '@ferry/common';
import { ManualClock } from '../src/clock.js';
import {
  CLUSTER_RECOUNT_MS,
  PendingCounts,
  type PendingSource,
  RECOUNT_MS,
  UNSURE_RECOUNT_MS,
} from '../src/observability/pending-counts.js';
import type { CommitResult, QueueOp, QueueOpResult } from '../src/store/types.js';

/** A store count the test sets; counts its calls. */
function source(initial: { enqueued: number; invisible: number; feedback: number }) {
  const s = { ...initial, calls: 0 };
  const src: PendingSource = {
    queueTotals: async () => {
      s.calls++;
      return { enqueued: s.enqueued, invisible: s.invisible };
    },
    pendingFeedbackRecords: async () => s.feedback,
  };
  return { s, src };
}

function commit(pairs: Array<[QueueOp, QueueOpResult]>, feedbackRecords = 0): [QueueOp[], CommitResult] {
  const records = Array.from({ length: feedbackRecords }, () => ({
    originalMessageId: 'm',
    enqueuedTimeUtc: '2026-01-01T00:00:00Z',
    statusCode: 'Success' as const,
    description: 'Success',
    deviceId: 'd',
    deviceGenerationId: 'g',
  }));
  return [
    pairs.map(([op]) => op),
    {
      results: pairs.map(([, r]) => r),
      wokenDevices: [],
      feedbackAvailable: false,
      earliestDeadline: null,
      ...(records.length ? { feedbackRecords: records } : {}),
    },
  ];
}

const delivery = (lockToken: string) => ({ lockToken }) as Delivery;
const enqueue: QueueOp = {
  kind: 'enqueue',
  message: { deviceId: 'd', expiryTimeUtc: 1, properties: {}, body: Buffer.alloc(0) },
};
const settle = (action: 'complete' | 'abandon' | 'reject'): QueueOp => ({
  kind: 'settle',
  deviceId: 'd',
  lockToken: 't',
  action,
});

/** A recount must not fail in these tests. */
const failOnError = (err: unknown) => assert.fail(String(err));

/** Lets the recount's promise chain finish. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

test('seeded by the store at start, then moved by every committed result without a store call', async () => {
  const clock = new ManualClock();
  const { s, src } = source({ enqueued: 4, invisible: 1, feedback: 2 });
  const counts = new PendingCounts();
  await counts.start(src, clock, false, failOnError);
  assert.deepEqual(counts.figures, { enqueued: 4, invisible: 1, feedbackRecords: 2 });
  assert.equal(s.calls, 1);

  counts.apply(
    ...commit([
      [enqueue, { ok: true, sequenceNumber: 1 }],
      [enqueue, { ok: true, sequenceNumber: 2 }],
      [enqueue, { ok: false, error: 'DeviceMaximumQueueDepthExceeded' }],
      [
        { kind: 'lease', deviceId: 'd', max: 3 },
        { ok: true, deliveries: [delivery('a'), delivery('b'), delivery('c')] },
      ],
    ]),
  );
  assert.deepEqual(counts.figures, { enqueued: 3, invisible: 4, feedbackRecords: 2 });
  counts.apply(
    ...commit(
      [
        [settle('complete'), { ok: true, outcome: 'completed' }],
        [settle('abandon'), { ok: true, outcome: 'requeued' }],
        [settle('reject'), { ok: true, outcome: 'deadLettered' }],
        [settle('complete'), { ok: false, error: 'DeviceMessageLockLost' }],
        [
          { kind: 'release', deviceId: 'd', lockTokens: ['x'] },
          { ok: true, released: 1 },
        ],
      ],
      2,
    ),
  );
  assert.deepEqual(counts.figures, { enqueued: 5, invisible: 0, feedbackRecords: 4 });

  const batch = { lockToken: 'fb', records: [{}, {}, {}] } as unknown as FeedbackBatch;
  counts.apply(...commit([[{ kind: 'leaseFeedback' }, { ok: true, batch }]]));
  assert.equal(counts.figures.feedbackRecords, 4, 'a leased feedback message is still pending');
  counts.apply(...commit([[{ kind: 'settleFeedback', lockToken: 'fb', action: 'complete' }, { ok: true }]]));
  assert.equal(counts.figures.feedbackRecords, 1);
  assert.equal(s.calls, 1, 'no store call after the seed');
  counts.stop();
});

test('a purge or TTL expiry, whose split between states is guessed, is recounted soon; what commits meanwhile is kept', async () => {
  const clock = new ManualClock();
  const { s, src } = source({ enqueued: 3, invisible: 2, feedback: 0 });
  const counts = new PendingCounts();
  await counts.start(src, clock, false, failOnError);
  counts.apply(
    ...commit([
      [
        { kind: 'purge', deviceId: 'd' },
        { ok: true, purged: 4 },
      ],
    ]),
  );
  assert.deepEqual(counts.figures, { enqueued: 0, invisible: 1, feedbackRecords: 0 }, 'taken from Enqueued first');
  // The store knows better: the purged device held both locked messages.
  Object.assign(s, { enqueued: 1, invisible: 0 });
  clock.advance(UNSURE_RECOUNT_MS - 1);
  assert.equal(s.calls, 1);
  clock.advance(1);
  // An enqueue committed while the recount's query runs is added to what it counted.
  counts.apply(...commit([[enqueue, { ok: true, sequenceNumber: 9 }]]));
  await settled();
  assert.equal(s.calls, 2);
  assert.deepEqual(counts.figures, { enqueued: 2, invisible: 0, feedbackRecords: 0 });
  counts.apply(
    ...commit([
      [
        { kind: 'expire', limit: 500 },
        { ok: true, expired: 0, locksExpired: 0, more: false },
      ],
    ]),
  );
  clock.advance(UNSURE_RECOUNT_MS);
  await settled();
  assert.equal(s.calls, 2, 'an expire that changed nothing is not recounted early');
  counts.stop();
});

test('one node recounts each period only after commits; several nodes recount each period regardless', async () => {
  const clock = new ManualClock();
  const one = source({ enqueued: 0, invisible: 0, feedback: 0 });
  const single = new PendingCounts();
  await single.start(one.src, clock, false, failOnError);
  clock.advance(RECOUNT_MS * 3);
  await settled();
  assert.equal(one.s.calls, 1, 'an idle hub is not recounted');
  single.apply(...commit([[enqueue, { ok: true, sequenceNumber: 1 }]]));
  Object.assign(one.s, { enqueued: 7 });
  clock.advance(RECOUNT_MS);
  await settled();
  assert.equal(one.s.calls, 2);
  assert.equal(single.figures.enqueued, 7);
  single.stop();

  const many = source({ enqueued: 0, invisible: 0, feedback: 0 });
  const node = new PendingCounts();
  await node.start(many.src, clock, true, failOnError);
  Object.assign(many.s, { enqueued: 5, feedback: 3 });
  clock.advance(CLUSTER_RECOUNT_MS);
  await settled();
  assert.equal(many.s.calls, 2, 'other nodes commit too');
  assert.deepEqual(node.figures, { enqueued: 5, invisible: 0, feedbackRecords: 3 });
  node.stop();
  clock.advance(CLUSTER_RECOUNT_MS * 2);
  await settled();
  assert.equal(many.s.calls, 2, 'stopped');
});
