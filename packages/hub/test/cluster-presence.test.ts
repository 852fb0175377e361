/**
 * Hub-wide presence and node heartbeats on PostgreSQL (issue 28): two nodes (a registry, a
 * presence book and a heartbeat each, with their own pools) on one schema. GET /devices/{id}
 * (registry.get) gives the same connectionState through either node; a node that stops
 * heart-beating is released by the other once cluster.nodeTimeoutMs has passed, and the devices
 * it held read Disconnected everywhere.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import pino from 'pino';
import { ManualClock } from '../src/clock.js';
import { NodeHeartbeat } from '../src/cluster/node-heartbeat.js';
import { PresenceBook } from '../src/cluster/presence-book.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import type { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { dropSchemasWhenPassed, openTestStore, testSchema } from './pg-test-db.js';
import { device } from './store-contract-kit.js';

dropSchemasWhenPassed();
const TIMEOUT = 30_000;
const logger = pino({ level: 'silent' });
const stores: PostgresStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

async function node(schema: string, nodeId: string, clock: ManualClock) {
  const store = await openTestStore(schema);
  stores.push(store);
  const presence = new PresenceBook({ store, nodeId, clock, logger });
  const registry = new DeviceRegistry({ store, engine: { queueDepth: async () => 0 }, clock, presence });
  const heartbeat = new NodeHeartbeat({
    store,
    nodeId,
    address: () => `${nodeId}.example:443`,
    connections: () => registry.connectedDevices().length,
    clock,
    timeoutMs: TIMEOUT,
    lockTimeoutMs: 60_000,
    logger,
  });
  return { store, presence, registry, heartbeat };
}

test('connectionState is the same through either node, and follows the device between them', async () => {
  const schema = testSchema();
  const clock = new ManualClock();
  const a = await node(schema, 'node-a', clock);
  const b = await node(schema, 'node-b', clock);
  await a.store.insertDevice(device('d'));
  const states = async () => [(await a.registry.get('d')).connectionState, (await b.registry.get('d')).connectionState];

  assert.deepEqual(await states(), ['Disconnected', 'Disconnected']);
  a.registry.setConnectionState('d', 'Connected');
  await a.presence.flush();
  assert.deepEqual(await states(), ['Connected', 'Connected']);
  // The device moves to node B (the newest connection wins); A's late disconnect changes nothing.
  clock.advance(1000);
  b.registry.setConnectionState('d', 'Connected');
  await b.presence.flush();
  clock.advance(1000);
  a.registry.setConnectionState('d', 'Disconnected');
  await a.presence.flush();
  assert.deepEqual(await states(), ['Connected', 'Connected']);
  b.registry.setConnectionState('d', 'Disconnected');
  await b.presence.flush();
  assert.deepEqual(await states(), ['Disconnected', 'Disconnected']);
  assert.equal(await a.store.countConnected(), 0);
});

test('a node that stops heart-beating is released by the other after cluster.nodeTimeoutMs', async () => {
  const schema = testSchema();
  const clock = new ManualClock();
  const a = await node(schema, 'node-a', clock);
  const b = await node(schema, 'node-b', clock);
  await a.store.insertDevice(device('d'));
  a.registry.setConnectionState('d', 'Connected');
  await a.presence.flush();
  await a.heartbeat.beat();
  await b.heartbeat.beat();
  // Each node's heartbeat reads the hub-wide count (the metrics' gauge and the console's statistics).
  assert.deepEqual([a.heartbeat.hubConnected, b.heartbeat.hubConnected], [1, 1]);
  assert.deepEqual(
    (await b.store.listNodes()).map((n) => [n.nodeId, n.connections]),
    [
      ['node-a', 1],
      ['node-b', 0],
    ],
  );
  // Node A goes silent (killed); B keeps beating.
  clock.advance(TIMEOUT - 1);
  await b.heartbeat.beat();
  assert.equal((await b.registry.get('d')).connectionState, 'Connected', 'not before the timeout');
  clock.advance(1);
  await b.heartbeat.beat();
  assert.deepEqual(
    (await b.store.listNodes()).map((n) => n.nodeId),
    ['node-b'],
  );
  assert.equal((await b.registry.get('d')).connectionState, 'Disconnected');
  assert.equal(b.heartbeat.hubConnected, 0);
  // A node that stops cleanly leaves at once.
  await b.heartbeat.stop();
  assert.deepEqual(await a.store.listNodes(), []);
});
