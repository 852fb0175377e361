/**
 * A lone node's leases take no row lock (migration 22, lease-lock-sql.ts); what keeps a message
 * from being leased twice when another node leases the same queue at once (it started between two
 * heartbeats) is the lease UPDATE's own check that the row is still Enqueued, re-evaluated on the
 * row version the other transaction committed; a lease that left a row out fails, and the store
 * runs its group again op by op. These races are made on purpose: the first lease holds its
 * transaction open until the second waits on its rows.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import type { Delivery } from '@ferry/common';
import pg from 'pg';
import { commitHot, hotOps } from '../src/store/postgres/hot-path.js';
import type { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { QueueOp, QueueOpResult } from '../src/store/types.js';
import { dropSchemasWhenPassed, openTestStore, PG_URL, testSchema } from './pg-test-db.js';
import { device, message, POLICY, T0 } from './store-contract-kit.js';

dropSchemasWhenPassed();
let schema: string;
let store: PostgresStore;
const clients: pg.Client[] = [];
beforeEach(async () => {
  schema = testSchema();
  store = await openTestStore(schema);
  await store.insertDevice(device('a'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.end();
  await store.close();
});

/** A connection of its own, named so that `blocked` can find it. */
async function connection(name: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}`, application_name: name });
  await c.connect();
  clients.push(c);
  return c;
}

const sends = (n: number): QueueOp[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'enqueue', message: message('a', `m${i + 1}`) }));
const seqs = (r: QueueOpResult | undefined) =>
  (r as { deliveries: Delivery[] }).deliveries.map((d) => d.sequenceNumber);
const lease: QueueOp[] = [{ kind: 'lease', deviceId: 'a', max: 2 }];

/** Resolves once a backend of that application name waits for a lock another transaction holds. */
async function blocked(name: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = await store.pool.query(
      "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
      [name],
    );
    if (r.rowCount) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`${name} never waited for a lock`);
}

/** The first lease, in a transaction left open: messages 1 and 2 of 3. */
async function firstLease(shared: boolean): Promise<{ c1: pg.Client; tokens: string[] }> {
  await store.commit(sends(3), T0, POLICY);
  const c1 = await connection(`${schema}-1`);
  await c1.query('BEGIN');
  const first = await commitHot(c1, hotOps(lease)!, T0, POLICY, store.channel, 'n1', shared);
  const got = (first!.results[0] as { deliveries: Delivery[] }).deliveries;
  assert.deepEqual(
    got.map((d) => d.sequenceNumber),
    [1, 2],
  );
  return { c1, tokens: got.map((d) => d.lockToken) };
}

/** The first lease's tokens still hold its messages: both complete. */
async function completes(tokens: string[]): Promise<boolean[]> {
  const ops = tokens.map((lockToken): QueueOp => ({ kind: 'settle', deviceId: 'a', lockToken, action: 'complete' }));
  return (await store.commit(ops, T0, POLICY)).results.map((r) => r.ok);
}

// The first lease in either form, the second in the lone form: it meets rows the first updated.
for (const firstShared of [false, true]) {
  test(`a lone-form lease racing a ${firstShared ? 'locking' : 'lone'}-form lease of the same queue leases none of its messages`, async () => {
    const { c1, tokens } = await firstLease(firstShared);
    // The second reads messages 1 and 2 as Enqueued (the first has not committed) and waits on them.
    const c2 = await connection(`${schema}-2`);
    // Re-checked on the committed rows, both are leased already: left out, and the group fails
    // (a serialization failure) rather than answer fewer messages than SKIP LOCKED would have.
    const failed = assert.rejects(commitHot(c2, hotOps(lease)!, T0, POLICY, store.channel, 'n2', false), {
      code: '40001',
    });
    await blocked(`${schema}-2`);
    await c1.query('COMMIT');
    await failed;
    assert.deepEqual(await completes(tokens), [true, true]);
    // Message 3 was never taken; the next lease gets it.
    assert.deepEqual(seqs((await store.commit(lease, T0, POLICY)).results[0]), [3]);
  });
}

test('a lone node whose lease lost such a race gets the next messages, op by op', async () => {
  const { c1, tokens } = await firstLease(false);
  store.othersLive = false;
  const hot = store.hotCommitCount;
  const second = store.commit(lease, T0, POLICY);
  await blocked(`ferry-${store.nodeId}`);
  await c1.query('COMMIT');
  assert.deepEqual(seqs((await second).results[0]), [3]);
  assert.equal(store.hotCommitCount, hot);
  assert.deepEqual(await completes(tokens), [true, true]);
});

test('the locking form skips the rows a lone-form lease holds, to the next ones', async () => {
  const { c1 } = await firstLease(false);
  const c2 = await connection(`${schema}-2`);
  const second = await commitHot(c2, hotOps(lease)!, T0, POLICY, store.channel, 'n2', true);
  assert.deepEqual(seqs(second!.results[0]), [3]);
  await c1.query('COMMIT');
});

test('two stores that each take themselves for the only node, leasing one queue at once: none twice, none lost', async () => {
  const other = await openTestStore(schema);
  try {
    store.othersLive = false;
    other.othersLive = false;
    const deep = { ...POLICY, maxQueueDepth: 40 };
    await store.commit(sends(30), T0, deep);
    const three: QueueOp = { kind: 'lease', deviceId: 'a', max: 3 };
    const groups = await Promise.all(
      Array.from({ length: 8 }, (_, g) => (g % 2 ? other : store).commit([three, three, three], T0, deep)),
    );
    const leased = groups.flatMap((g) => g.results.flatMap(seqs));
    assert.deepEqual(
      leased.sort((x, y) => x - y),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  } finally {
    await other.close();
  }
});

test("the store takes itself for the only node once its heartbeat finds no other node's row", async () => {
  const node = (nodeId: string) => ({ nodeId, address: 'x', connections: 0, startedAt: T0, heartbeatAt: T0 });
  // Not known yet: leases lock.
  assert.equal(store.othersLive, true);
  await store.heartbeatNode(node('n1'));
  assert.equal(store.othersLive, false);
  await store.heartbeatNode(node('n2'));
  await store.heartbeatNode(node('n1'));
  assert.equal(store.othersLive, true);
  await store.releaseNodes(T0, { timeoutMs: 60_000, lockTimeoutMs: 1000, nodeId: 'n2' });
  await store.heartbeatNode(node('n1'));
  assert.equal(store.othersLive, false);
});
