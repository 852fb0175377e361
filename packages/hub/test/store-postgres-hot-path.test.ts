/**
 * The PostgreSQL hot path (issue 28): which groups take ferry_commit_hot, and that the ones that
 * cannot (something due, a token it did not mint, an out-of-order group) still answer as the
 * contract says. The contract suites prove the results; these prove the paths are the ones meant.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { Delivery } from '@ferry/common';
import pg from 'pg';
import type { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { QueueOp, QueueOpResult } from '../src/store/types.js';
import { dropSchemasWhenPassed, openTestStore, PG_URL, testSchema } from './pg-test-db.js';
import { device, message, POLICY, T0 } from './store-contract-kit.js';

dropSchemasWhenPassed();
let store: PostgresStore;
let schema: string;
beforeEach(async () => {
  schema = testSchema();
  store = await openTestStore(schema);
  for (const id of ['a', 'b']) await store.insertDevice(device(id));
});
afterEach(() => store.close());

const enqueue = (d: string, text: string, expiry = T0 + 3_600_000): QueueOp => ({
  kind: 'enqueue',
  message: message(d, text, { expiryTimeUtc: expiry }),
});
const deliveries = (r: QueueOpResult | undefined) => (r as { deliveries: Delivery[] }).deliveries;

async function commit(ops: QueueOp[], now = T0) {
  const hot = store.hotCommitCount;
  const r = await store.commit(ops, now, POLICY);
  return { ...r, hot: store.hotCommitCount > hot };
}

test('sends with a waiting receiver are locked as they are inserted, in one hot commit', async () => {
  const r = await commit([
    enqueue('a', 'a1'),
    enqueue('b', 'b1'),
    enqueue('a', 'a2'),
    { kind: 'lease', deviceId: 'a', max: 1, direct: true },
    { kind: 'lease', deviceId: 'b', max: 5, direct: true },
  ]);
  assert.equal(r.hot, true);
  assert.deepEqual(
    deliveries(r.results[3]).map((d) => [d.sequenceNumber, d.body.toString(), d.deliveryCount, d.redelivered]),
    [[1, 'a1', 0, false]],
  );
  assert.deepEqual(
    deliveries(r.results[4]).map((d) => d.body.toString()),
    ['b1'],
  );
  assert.deepEqual(r.wokenDevices.sort(), ['a', 'b']);
  // a2 is left Enqueued for the next lease; a1 is Invisible with the delivered token.
  const peek = await store.peekMessages('a', T0, 10);
  assert.deepEqual(
    peek.map((m) => [m.sequenceNumber, m.state]),
    [
      [1, 'Invisible'],
      [2, 'Enqueued'],
    ],
  );
  const done = await commit([
    { kind: 'settle', deviceId: 'a', lockToken: deliveries(r.results[3])[0]!.lockToken, action: 'complete' },
    { kind: 'lease', deviceId: 'a', max: 5 },
  ]);
  // A complete after a lease of the same device is out of phase order: op by op.
  assert.equal(done.hot, false);
  assert.deepEqual(done.results[0], { ok: true, outcome: 'completed' });
  assert.deepEqual(
    deliveries(done.results[1]).map((d) => d.body.toString()),
    ['a2'],
  );
});

test('a direct lease of a device that still has Enqueued messages gets the oldest first', async () => {
  await commit([enqueue('a', 'old')]);
  const r = await commit([enqueue('a', 'new'), { kind: 'lease', deviceId: 'a', max: 1, direct: true }]);
  assert.equal(r.hot, true);
  assert.deepEqual(
    deliveries(r.results[1]).map((d) => d.body.toString()),
    ['old'],
  );
});

test('two leases of one device in a group are dealt messages in op order', async () => {
  await commit([enqueue('a', '1'), enqueue('a', '2'), enqueue('a', '3')]);
  const r = await commit([
    { kind: 'lease', deviceId: 'a', max: 2 },
    { kind: 'lease', deviceId: 'a', max: 2 },
  ]);
  assert.equal(r.hot, true);
  assert.deepEqual(
    deliveries(r.results[0]).map((d) => d.body.toString()),
    ['1', '2'],
  );
  assert.deepEqual(
    deliveries(r.results[1]).map((d) => d.body.toString()),
    ['3'],
  );
});

test('a group whose device has something due goes op by op: the expiry is applied first', async () => {
  await commit([enqueue('a', 'short', T0 + 1000), enqueue('a', 'long')]);
  const r = await commit([{ kind: 'lease', deviceId: 'a', max: 5 }], T0 + 2000);
  assert.equal(r.hot, false);
  assert.deepEqual(
    deliveries(r.results[0]).map((d) => d.body.toString()),
    ['long'],
  );
  // The lease minted its token on the op-by-op path; completing it still works (and the one after fails).
  const token = deliveries(r.results[0])[0]!.lockToken;
  const settle: QueueOp = { kind: 'settle', deviceId: 'a', lockToken: token, action: 'complete' };
  const done = await commit([settle, settle], T0 + 2000);
  assert.deepEqual(done.results, [
    { ok: true, outcome: 'completed' },
    { ok: false, error: 'DeviceMessageLockLost' },
  ]);
});

test('the second complete of one token in a hot group loses the lock; sends past the depth are refused', async () => {
  const sent = await commit([
    ...Array.from({ length: POLICY.maxQueueDepth + 1 }, (_, i) => enqueue('b', `m${i}`)),
    enqueue('nobody', 'x'),
    { kind: 'lease', deviceId: 'b', max: 1 },
  ]);
  assert.equal(sent.hot, true);
  assert.deepEqual(sent.results[POLICY.maxQueueDepth], { ok: false, error: 'DeviceMaximumQueueDepthExceeded' });
  assert.deepEqual(sent.results[POLICY.maxQueueDepth + 1], { ok: false, error: 'DeviceNotFound' });
  const token = deliveries(sent.results[POLICY.maxQueueDepth + 2])[0]!.lockToken;
  assert.match(token, /^[0-9a-f]{8}-[0-9a-f]{4}-f[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const settle: QueueOp = { kind: 'settle', deviceId: 'b', lockToken: token, action: 'complete' };
  const done = await commit([settle, settle]);
  assert.equal(done.hot, true);
  assert.deepEqual(done.results, [
    { ok: true, outcome: 'completed' },
    { ok: false, error: 'DeviceMessageLockLost' },
  ]);
});

test('the hot path plans its statements once per connection (migration 21): generic plans', async () => {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ proconfig: string[] | null }>(
      `SELECT p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = $1 AND p.proname = 'ferry_commit_lean'`,
      [schema],
    );
    assert.deepEqual(
      rows.map((r) => r.proconfig),
      [['plan_cache_mode=force_generic_plan']],
    );
  } finally {
    await client.end();
  }
  // And the function still answers under it: a send taken by a waiting receiver, hot.
  const r = await commit([enqueue('a', 'x'), { kind: 'lease', deviceId: 'a', max: 1, direct: true }]);
  assert.equal(r.hot, true);
  assert.equal(deliveries(r.results[1]).length, 1);
});
