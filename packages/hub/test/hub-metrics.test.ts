import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Delivery, FerryError, type OutgoingMessage } from '@ferry/common';
import { ManualClock } from '../src/clock.js';
import type { C2dEngine, ReceiverHandlers } from '../src/engine/types.js';
import { meteredEngine } from '../src/observability/metered-engine.js';
import { HubMetrics } from '../src/observability/metrics.js';

/** Only what the metered calls reach; anything else fails the test loudly. */
function fakeEngine(): C2dEngine {
  const unused = () => {
    throw new Error('not used by this test');
  };
  return {
    send: async (deviceId: string) => {
      if (deviceId === 'missing') throw new FerryError('DeviceNotFound');
      return { messageId: 'm', sequenceNumber: 1 };
    },
    sendMany: async (items) =>
      items.map(({ deviceId }) =>
        deviceId === 'missing' ? new FerryError('DeviceNotFound') : { messageId: undefined, sequenceNumber: 2 },
      ),
    complete: async (_d: string, token: string) => {
      if (token === 'lost') throw new FerryError('DeviceMessageLockLost');
    },
    abandon: async () => {},
    reject: async () => {},
    receive: unused,
    release: unused,
    purge: unused,
    deadLetters: unused,
    requeueDeadLetter: unused,
    deleteDeadLetter: unused,
    messageHistory: unused,
    queueDepth: unused,
    onAvailable: unused,
    receiveFeedback: unused,
    completeFeedback: unused,
    abandonFeedback: unused,
    rejectFeedback: unused,
    onFeedbackAvailable: unused,
  };
}

const message: OutgoingMessage = { body: Buffer.from('x') };

test('sends and settlements are counted by result, errors still reach the caller', async () => {
  const metrics = new HubMetrics();
  const engine = meteredEngine(fakeEngine(), metrics);
  await engine.send('d1', message);
  await assert.rejects(engine.send('missing', message), (err: Error) => err instanceof FerryError);
  await engine.sendMany([
    { deviceId: 'd1', message },
    { deviceId: 'missing', message },
  ]);
  await engine.complete('d1', 't');
  await assert.rejects(engine.complete('d1', 'lost'));
  await engine.reject('d1', 't');
  const text = await metrics.text();
  assert.match(text, /ferry_c2d_sends_total\{result="ok"\} 2/);
  assert.match(text, /ferry_c2d_sends_total\{result="DeviceNotFound"\} 2/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="complete",result="ok"\} 1/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="complete",result="DeviceMessageLockLost"\} 1/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="reject",result="ok"\} 1/);
});

test('live connections are read from the gateways at scrape time; two hubs do not share counters', async () => {
  const a = new HubMetrics();
  const b = new HubMetrics();
  const gateway = { connectionCount: 3 };
  a.watchConnections('mqtt', gateway);
  a.connectionsTotal.inc({ protocol: 'mqtt', transport: 'ws' });
  assert.match(await a.text(), /ferry_connections\{protocol="mqtt"\} 3/);
  gateway.connectionCount = 1;
  assert.match(await a.text(), /ferry_connections\{protocol="mqtt"\} 1/);
  assert.match(await a.text(), /ferry_connections_total\{protocol="mqtt",transport="ws"\} 1/);
  assert.doesNotMatch(await b.text(), /protocol="mqtt"/);
});

test('sends and settlements waiting for the engine are counted in flight, and leave the gauge when answered', async () => {
  const metrics = new HubMetrics();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slow: C2dEngine = {
    ...fakeEngine(),
    send: async () => {
      await gate;
      return { messageId: 'm', sequenceNumber: 1 };
    },
    complete: async () => {
      await gate;
      throw new FerryError('DeviceMessageLockLost');
    },
  };
  const engine = meteredEngine(slow, metrics);
  const sends = [engine.send('d1', message), engine.send('d2', message)];
  const settle = engine.complete('d1', 't');
  const text = await metrics.text();
  assert.match(text, /ferry_c2d_operations_in_flight\{operation="send"\} 2/);
  assert.match(text, /ferry_c2d_operations_in_flight\{operation="settle"\} 1/);
  release();
  await Promise.all(sends);
  await assert.rejects(settle);
  const after = await metrics.text();
  assert.match(after, /ferry_c2d_operations_in_flight\{operation="send"\} 0/);
  assert.match(after, /ferry_c2d_operations_in_flight\{operation="settle"\} 0/);
});

test('settlements answered through the callback path are counted by outcome and result, and in flight until answered', async () => {
  const metrics = new HubMetrics();
  const answers: Array<() => void> = [];
  const withCallbacks: C2dEngine = {
    ...fakeEngine(),
    settleTo: (_deviceId, lockToken, _action, done) =>
      answers.push(() => done(lockToken === 'lost' ? new FerryError('DeviceMessageLockLost') : undefined)),
  };
  const engine = meteredEngine(withCallbacks, metrics);
  const results: Array<Error | undefined> = [];
  engine.settleTo!('d1', 't', 'complete', (err) => results.push(err));
  engine.settleTo!('d1', 'lost', 'complete', (err) => results.push(err));
  engine.settleTo!('d1', 't', 'abandon', (err) => results.push(err));
  assert.match(await metrics.text(), /ferry_c2d_operations_in_flight\{operation="settle"\} 3/);
  for (const answer of answers) answer();
  assert.equal(results.length, 3);
  assert.equal(results[0], undefined);
  assert.ok(results[1] instanceof FerryError && results[1].errorName === 'DeviceMessageLockLost');
  const text = await metrics.text();
  assert.match(text, /ferry_c2d_operations_in_flight\{operation="settle"\} 0/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="complete",result="ok"\} 1/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="complete",result="DeviceMessageLockLost"\} 1/);
  assert.match(text, /ferry_c2d_settles_total\{outcome="abandon",result="ok"\} 1/);
});

test('an engine without the callback path gives a metered engine without it (gateways use the promise methods)', () => {
  assert.equal(meteredEngine(fakeEngine(), new HubMetrics()).settleTo, undefined);
});

/** A delivery as the engine hands it out: first (redelivered false) or again. */
function delivered(lockToken: string, enqueuedTimeUtc: number, redelivered = false): Delivery {
  return {
    deviceId: 'd1',
    sequenceNumber: 1,
    expiryTimeUtc: enqueuedTimeUtc + 60_000,
    enqueuedTimeUtc,
    properties: {},
    body: Buffer.from('x'),
    deliveryCount: redelivered ? 1 : 0,
    lockToken,
    lockedUntil: enqueuedTimeUtc + 60_000,
    redelivered,
  };
}

/** One histogram's _count and the cumulative count of its bucket `le`. */
function histogram(text: string, name: string, le: string): { count: number; inBucket: number } {
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  return {
    count: value(new RegExp(`^${name}_count (\\S+)$`, 'm')),
    inBucket: value(new RegExp(`^${name}_bucket\\{le="${le.replace('.', '\\.')}"\\} (\\S+)$`, 'm')),
  };
}

test('enqueue-to-delivery and delivery-to-settle are timed on the promise, receiver and callback paths; redeliveries are not queue waits', async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const metrics = new HubMetrics();
  const t0 = clock.now();
  let handlers: ReceiverHandlers | undefined;
  const engine = meteredEngine(
    {
      ...fakeEngine(),
      receive: async () => [delivered('a', t0 - 3), delivered('b', t0 - 40_000, true)],
      openReceiver: (_deviceId, h) => {
        handlers = h;
        return { want: () => {}, pause: () => false, close: () => {} };
      },
      settleTo: (_d, _t, _a, done) => done(undefined),
      release: async () => {},
    },
    metrics,
    clock,
  );
  await engine.receive('d1', 2);
  const got: Delivery[][] = [];
  engine.openReceiver!('d1', { onDeliveries: (batch) => got.push(batch), onError: assert.fail });
  handlers!.onDeliveries([delivered('c', t0 - 1500)]);
  assert.deepEqual(
    got.map((b) => b.map((d) => d.lockToken)),
    [['c']],
    'the gateway still gets its batch',
  );
  let text = await metrics.text();
  assert.deepEqual(histogram(text, 'ferry_c2d_delivery_seconds', '0.005'), { count: 2, inBucket: 1 });
  assert.deepEqual(histogram(text, 'ferry_c2d_delivery_seconds', '2.5'), { count: 2, inBucket: 2 });

  clock.advance(20);
  await engine.complete('d1', 'a');
  engine.settleTo!('d1', 'c', 'complete', () => {});
  await engine.release('d1', ['b']);
  await engine.complete('d1', 'b'); // released before: no delivery time is known any more
  text = await metrics.text();
  assert.deepEqual(histogram(text, 'ferry_c2d_settle_seconds', '0.025'), { count: 2, inBucket: 2 });
  assert.deepEqual(histogram(text, 'ferry_c2d_settle_seconds', '0.01'), { count: 2, inBucket: 0 });
  assert.equal(metrics.deliveries.tracked, 0);
});

test('group commits fill the commit histograms; refusals and failed handshakes are counted by label', async () => {
  const metrics = new HubMetrics();
  metrics.groupCommitted(0.0004, 1);
  metrics.groupCommitted(0.004, 120);
  metrics.refused('mqtt', 'not-authorized');
  metrics.refused('mqtt', 'not-authorized');
  metrics.handshakeFailed(8883, 'protocol');
  const text = await metrics.text();
  assert.deepEqual(histogram(text, 'ferry_store_commit_seconds', '0.0005'), { count: 2, inBucket: 1 });
  assert.deepEqual(histogram(text, 'ferry_store_commit_operations', '128'), { count: 2, inBucket: 2 });
  assert.match(text, /^ferry_store_commit_operations_sum 121$/m);
  assert.match(text, /^ferry_refusals_total\{protocol="mqtt",cause="not-authorized"\} 2$/m);
  assert.match(text, /^ferry_tls_handshake_failures_total\{port="8883",reason="protocol"\} 1$/m);
  assert.match(text, /^ferry_c2d_queue_messages\{state="Enqueued"\} 0$/m);
  assert.match(text, /^ferry_feedback_records_pending 0$/m);
});

test("several nodes: every series carries the node's id, the process metrics too", async () => {
  const metrics = new HubMetrics();
  metrics.collectProcessMetrics();
  metrics.setNode('node-a');
  const text = await metrics.text();
  assert.match(text, /^process_resident_memory_bytes\{node="node-a"\} \d+/m);
  assert.match(text, /^nodejs_eventloop_lag_seconds\{node="node-a"\} /m);
  assert.match(text, /^ferry_store_commit_seconds_count\{node="node-a"\} 0$/m);
  assert.doesNotMatch(text, /^nodejs_active_handles_total/m, 'a gauge named like a counter fails promtool');
});

test("glibc's heap figures are read at each scrape, where the native-memory addon loaded", async () => {
  const metrics = new HubMetrics();
  assert.doesNotMatch(await metrics.text(), /ferry_process_native_heap_bytes/, 'shown without the addon');
  let reads = 0;
  const info = { arena: 50, hblkhd: 7, uordblks: 30, fordblks: 20, keepcost: 1 };
  metrics.watchNativeHeap({
    info: () => {
      reads++;
      return { ...info };
    },
  });
  assert.equal(reads, 0, 'read before a scrape');
  let text = await metrics.text();
  assert.equal(reads, 1, 'one mallinfo2 per scrape');
  assert.match(text, /^ferry_process_native_heap_bytes\{state="in_use"\} 30$/m);
  assert.match(text, /^ferry_process_native_heap_bytes\{state="free"\} 20$/m);
  assert.match(text, /^ferry_process_native_heap_bytes\{state="mmapped"\} 7$/m);
  info.fordblks = 4000;
  text = await metrics.text();
  assert.match(text, /^ferry_process_native_heap_bytes\{state="free"\} 4000$/m);
});
