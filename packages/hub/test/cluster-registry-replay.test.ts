/**
 * Registry changes are never lost to a node whose LISTEN connection was down: two nodes in one
 * process on one PostgreSQL schema, node B's LISTEN connection terminated (pg_terminate_backend)
 * and kept from coming back (its role may not log in) while node A disables one device,
 * regenerates another's keys and deletes a third. Once B listens again it reads the change
 * sequence and its registry tells its gateways, which cut the devices (cutOffByChange).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { systemClock } from '../src/clock.js';
import { PostgresSignalBus } from '../src/cluster/postgres-signal-bus.js';
import { RegistryReplay } from '../src/cluster/registry-replay.js';
import { cutOffByChange } from '../src/gateways/device-change.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import type { DeviceIdentity } from '../src/registry/types.js';
import type { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { RegistryChangeQueries } from '../src/store/postgres/registry-change-queries.js';
import { eventually } from './deadline.js';
import { deviceRecord } from './engine-harness.js';
import { dropSchemasWhenPassed, openTestStore, PG_URL, testSchema } from './pg-test-db.js';

dropSchemasWhenPassed();

const logger = pino({ level: 'silent' });
/** The role of node B's LISTEN connection: NOLOGIN keeps it from reconnecting. */
const ROLE = `ferry_listen_${process.pid}`;

interface Node {
  store: PostgresStore;
  bus: PostgresSignalBus;
  registry: DeviceRegistry;
  replay: RegistryReplay;
  close(): Promise<void>;
}

async function startNode(schema: string, listenUrl: string): Promise<Node> {
  const store = await openTestStore(schema);
  const bus = new PostgresSignalBus({
    url: listenUrl,
    channel: store.channel,
    nodeId: store.nodeId,
    pool: store.pool,
    logger,
    retryMs: 50,
    maxRetryMs: 100,
  });
  await bus.start();
  const registry = new DeviceRegistry({
    store,
    engine: { queueDepth: async () => 0 },
    clock: systemClock,
    cluster: bus,
  });
  await registry.init();
  const replay = new RegistryReplay({
    log: new RegistryChangeQueries(store.pool),
    registry,
    signals: bus,
    logger,
    retryMs: 50,
  });
  await replay.start();
  return {
    store,
    bus,
    registry,
    replay,
    async close() {
      await replay.close();
      await bus.close();
      await store.close();
    },
  };
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
}

before(() => admin((c) => c.query(`DROP ROLE IF EXISTS ${ROLE}; CREATE ROLE ${ROLE} LOGIN`)));
after(() => admin((c) => c.query(`DROP ROLE IF EXISTS ${ROLE}`)));

/** Ends node B's LISTEN connection and keeps it from coming back until `allow` is called. */
async function cutListen(node: Node): Promise<{ allow(): Promise<void> }> {
  await admin(async (c) => {
    await c.query(`ALTER ROLE ${ROLE} NOLOGIN`);
    const r = await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      `ferry-signals-${node.store.nodeId}`,
    ]);
    assert.equal(r.rowCount, 1, "node B's LISTEN connection in pg_stat_activity");
  });
  await eventually(() => !node.bus.listeningNow, "node B's LISTEN connection to be seen lost");
  return { allow: () => admin((c) => c.query(`ALTER ROLE ${ROLE} LOGIN`)).then(() => undefined) };
}

describe('registry changes missed by a node not listening', () => {
  let a: Node;
  let b: Node;
  beforeEach(async () => {
    const schema = testSchema();
    a = await startNode(schema, PG_URL);
    b = await startNode(schema, withUser(PG_URL, ROLE));
  });
  afterEach(async () => {
    await admin((c) => c.query(`ALTER ROLE ${ROLE} LOGIN`));
    await Promise.all([a.close(), b.close()]);
  });

  test('disabled, re-keyed and deleted through node A while B was not listening: B cuts all three once it listens again', async () => {
    for (const id of ['disabled', 'rekeyed', 'deleted', 'untouched']) await a.registry.create({ deviceId: id });
    const before = await b.registry.identity('rekeyed');
    for (const id of ['disabled', 'rekeyed', 'deleted', 'untouched']) b.registry.setConnectionState(id, 'Connected');
    const seen = new Map<string, DeviceIdentity | undefined>();
    b.registry.onDeviceChange((id, identity) => seen.set(id, identity));

    const listen = await cutListen(b);
    await a.registry.update('disabled', { deviceId: 'disabled', status: 'disabled' }, '*');
    await a.registry.update(
      'rekeyed',
      {
        deviceId: 'rekeyed',
        authentication: {
          symmetricKey: {
            primaryKey: 'bmV3LXByaW1hcnkta2V5LTAxMjM0NTY3ODk=',
            secondaryKey: 'bmV3LXNlY29uZGFyeS1rZXktMDEyMzQ1Njc4OQ==',
          },
        },
      },
      '*',
    );
    await a.registry.delete('deleted');
    assert.equal(b.bus.listeningNow, false, "node B's LISTEN connection stayed down during the changes");
    assert.equal(seen.size, 0, 'node B heard nothing while not listening');

    await listen.allow();
    await b.bus.whenListening();
    await eventually(() => seen.size >= 3, 'node B to re-read the three devices changed while it was not listening');
    assert.equal(cutOffByChange(seen.get('disabled'), undefined)?.error, 'DeviceDisabled');
    assert.equal(seen.has('deleted'), true);
    assert.equal(cutOffByChange(seen.get('deleted'), undefined)?.error, 'DeviceNotFound');
    assert.notEqual(seen.get('rekeyed')?.primaryKey, before?.primaryKey);
    assert.equal(seen.get('rekeyed')?.primaryKey, 'bmV3LXByaW1hcnkta2V5LTAxMjM0NTY3ODk=');
    assert.equal(seen.has('untouched'), false, 'a device nobody changed is not re-read');
  });
});

describe('the change sequence in the store', () => {
  let store: PostgresStore;
  let log: RegistryChangeQueries;
  before(async () => {
    store = await openTestStore(testSchema());
    log = new RegistryChangeQueries(store.pool);
  });
  after(() => store.close());

  test('written with registry updates and deletions only, in their transaction; C2D sends add nothing; pruned by age', async () => {
    const start = await log.cursor();
    await store.insertDevice(deviceRecord('s'));
    await store.pool.query('UPDATE devices SET next_seq = next_seq + 1 WHERE device_id = $1', ['s']);
    assert.deepEqual(await log.changesSince(start), [], 'an insert and a send are no registry change');
    await store.replaceDevice({ ...deviceRecord('s'), status: 'disabled', etag: 'BBBB' }, undefined);
    const rolledBack = await store.pool.connect();
    try {
      await rolledBack.query('BEGIN');
      await rolledBack.query("UPDATE devices SET etag = 'CCCC' WHERE device_id = 's'");
      await rolledBack.query('ROLLBACK');
    } finally {
      rolledBack.release();
    }
    assert.deepEqual(await log.changesSince(start), ['s']);
    const rows = await store.pool.query<{ n: number }>('SELECT count(*)::integer AS n FROM registry_changes');
    assert.equal(rows.rows[0]?.n, 1, 'one row: the rolled-back update left none');
    // A cursor is the oldest transaction still running in the whole database (other sessions'
    // included), so it may return changes a little older than itself, never miss a newer one.
    const later = await log.cursor();
    await store.deleteDevice('s', undefined);
    assert.deepEqual(await log.changesSince(later), ['s']);
    assert.equal(await log.prune(3_600_000), 0, 'rows younger than the retention stay');
    assert.equal(await log.prune(0), 2);
    assert.deepEqual(await log.changesSince(start), []);
  });
});
