/**
 * Memory that comes back (issue 29): 10,000 connect/subscribe/disconnect cycles over MQTT and over
 * AMQP leave the hub's per-connection, per-session and per-link structures where they started,
 * counted in the hub's own registries (gateway connection maps, the engine's waiting receivers,
 * the signal bus listeners) and on the heap (every server-side stream and connection object is
 * collected after a full GC, and over AMQP every rhea session, link and link handler). Deleting
 * the devices then releases their per-device state.
 * In-process Duplex pairs, not sockets: the test measures the hub, and stays fast.
 */
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { Client, HUB_NAME, startAmqpHarness } from './amqp-harness.js';
import { field, HeapTally, inParallel, sizeOf } from './churn-kit.js';
import { within } from './deadline.js';
import { duplexPair, startTestHub, subscribe, until } from './mqtt-helpers.js';

const CYCLES = 10_000;
const DEVICES = 20;
const ids = Array.from({ length: DEVICES }, (_, i) => `churn-${i}`);

/** The engine's per-device registries: receivers waiting for messages, signal listeners. */
function engineCounts(engine: object): Record<string, number> {
  const signals = field<object>(engine, 'signals');
  return {
    waitingReceivers: sizeOf(field<object>(engine, 'waiting'), 'byDevice'),
    deviceSignals: sizeOf(signals, 'devices'),
    twinSignals: sizeOf(signals, 'twins'),
  };
}

/** Waits until the counts equal `start` (closes finish a few turns after the client sees them). */
async function backTo(start: Record<string, number>, counts: () => Record<string, number>): Promise<void> {
  await until(
    () => JSON.stringify(counts()) === JSON.stringify(start),
    'the registries to return to their start',
  ).catch(() => assert.deepEqual(counts(), start, 'per-connection structures left behind'));
}

/** Tracks each stream the gateway is handed, and the connection object it makes of it. */
function trackHandle(
  gateway: { handle(stream: Duplex, info: { remoteAddress?: string; transport: string }): void },
  tally: HeapTally,
): void {
  const handle = gateway.handle.bind(gateway);
  gateway.handle = (stream, info) => {
    tally.track('stream', stream);
    handle(stream, info);
    for (const c of field<Set<object>>(gateway, 'connections')) tally.track('connection', c);
  };
}

/** Tracks the AMQP links each open connection holds, their handlers and their rhea sessions. */
function trackLinks(gateway: object, tally: HeapTally): void {
  for (const c of field<Set<object>>(gateway, 'connections')) {
    for (const [link, handler] of field<Map<{ session: object }, object>>(c, 'links')) {
      tally.track('link', link);
      tally.track('link handler', handler);
      tally.track('session', link.session);
    }
  }
}

function peakOf(peak: Record<string, number>, now: Record<string, number>): void {
  for (const [k, v] of Object.entries(now)) peak[k] = Math.max(peak[k] ?? 0, v);
}

describe('connection churn', () => {
  test('MQTT: 10,000 connect/subscribe/disconnect cycles leave no connection, session or listener behind', async () => {
    const hub = await startTestHub();
    const keys = new Map<string, string>();
    for (const id of ids) keys.set(id, await hub.device(id));
    const tally = new HeapTally();
    trackHandle(hub.gateway, tally);
    const gw = hub.gateway;
    const counts = () => ({
      connections: sizeOf(gw, 'connections'),
      byDevice: sizeOf(gw, 'byDevice'),
      authenticating: sizeOf(gw, 'authenticating'),
      claimedAt: sizeOf(gw, 'claimedAt'),
      ...engineCounts(hub.engine.inner),
    });
    const start = counts();
    const peak: Record<string, number> = {};

    await inParallel(CYCLES, DEVICES, async (i, worker) => {
      const id = ids[worker]!;
      const { client, connack } = await hub.connect(id, keys.get(id)!, { clean: i % 2 === 0 });
      assert.equal(connack.returnCode, 0);
      assert.deepEqual(await subscribe(client, id), [1]);
      peakOf(peak, counts());
      client.send({ cmd: 'disconnect' });
      await client.waitClosed();
      client.end(); // as a TCP peer answers the hub's FIN (allowHalfOpen off)
    });

    assert.equal(tally.tracked('stream'), CYCLES);
    assert.equal(tally.tracked('connection'), CYCLES);
    assert.ok(
      peak.byDevice! > 0 && peak.waitingReceivers! + peak.deviceSignals! > 0,
      'the counts see live connections',
    );
    await backTo(start, counts);
    for (const id of ids) assert.equal(hub.engine.listenerCount(id), 0, `${id}: onAvailable listeners left`);
    assert.deepEqual(await tally.alive(), { stream: 0, connection: 0 }, 'connection objects still reachable');

    // Deleting the devices releases what the hub kept per device between connections.
    for (const id of ids) await hub.registry.delete(id);
    assert.equal(sizeOf(hub.registry, 'live'), 0, 'presence of deleted devices');
    for (const id of ids) assert.equal(await hub.store.getMqttSession(id), undefined, `${id}: session kept`);
    await gw.close();
  });

  test('AMQP: 10,000 connect/attach/close cycles leave no connection, link or listener behind', async () => {
    const h = await startAmqpHarness();
    for (const id of ids) await h.createDevice(id);
    const tokens = new Map<string, string>();
    for (const id of ids) tokens.set(id, await h.deviceToken(id));
    const tally = new HeapTally();
    trackHandle(h.gateway, tally);
    const devices = field<object>(h.gateway, 'devices');
    const counts = () => ({
      connections: sizeOf(h.gateway, 'connections'),
      deviceLinks: sizeOf(devices, 'byDevice'),
      claimedAt: sizeOf(devices, 'claimedAt'),
      ...engineCounts(h.engine),
    });
    const start = counts();
    const peak: Record<string, number> = {};

    await inParallel(CYCLES, DEVICES, async (_, worker) => {
      const id = ids[worker]!;
      const options = {
        username: `${id}@sas.${HUB_NAME}`,
        password: tokens.get(id)!,
        // In memory: rhea's connect function gets a Duplex pair whose other side the gateway serves.
        connect: (_port: number, _host: string, _opts: unknown, connected: () => void) => {
          const [server, client] = duplexPair();
          h.gateway.handle(server, { remoteAddress: '127.0.0.1', transport: 'memory' });
          setImmediate(connected);
          return client;
        },
      };
      const c = new Client(0, options);
      await within(c.opened, 'the hub to open the AMQP connection');
      const r = await c.attachReceiver(`/devices/${id}/messages/devicebound`);
      assert.equal(r.error, undefined);
      trackLinks(h.gateway, tally);
      peakOf(peak, counts());
      assert.equal(await c.close(), undefined);
    });

    assert.equal(tally.tracked('stream'), CYCLES);
    assert.equal(tally.tracked('connection'), CYCLES);
    assert.ok(tally.tracked('link') >= CYCLES && tally.tracked('session') >= CYCLES, 'the tally sees every link');
    assert.ok(peak.deviceLinks! > 0 && peak.waitingReceivers! + peak.deviceSignals! > 0, 'the counts see live links');
    await backTo(start, counts);
    assert.deepEqual(
      await tally.alive(),
      { stream: 0, connection: 0, link: 0, 'link handler': 0, session: 0 },
      'connection, session or link objects still reachable',
    );

    for (const id of ids) await h.registry.delete(id);
    assert.equal(sizeOf(h.registry, 'live'), 0, 'presence of deleted devices');
    await h.close();
  });
});
