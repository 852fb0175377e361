/** The ClusterStore part of the store contract: node heartbeats, releasing dead nodes, device presence (issue 28). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeRecord, NodeRelease, PresenceRecord, PresenceWrite } from '../src/store/types.js';
import { type ContractKit, device, message, POLICY, T0 } from './store-contract-kit.js';

const node = (nodeId: string, heartbeatAt: number, connections = 0): NodeRecord => ({
  nodeId,
  address: `${nodeId}.example:443`,
  connections,
  startedAt: T0,
  heartbeatAt,
});
const w = (kind: PresenceWrite['kind'], deviceId: string, nodeId: string, at: number): PresenceWrite => ({
  kind,
  deviceId,
  nodeId,
  at,
});

/** Nodes silent for 10 s, or the one named; the contract's lock timeout. */
const release = (nodeId?: string): NodeRelease => ({ timeoutMs: 10_000, lockTimeoutMs: POLICY.lockTimeoutMs, nodeId });

const presence = (
  connectionState: PresenceRecord['connectionState'],
  nodeId: string,
  connectionStateUpdatedTime: number,
  lastActivityTime: number,
): PresenceRecord => ({ connectionState, nodeId, connectionStateUpdatedTime, lastActivityTime });

export function clusterContract(kit: ContractKit): void {
  describe('nodes and presence', () => {
    test('heartbeats write and refresh a node row; nodes are listed by id', async () => {
      await kit.store.heartbeatNode(node('b', T0));
      await kit.store.heartbeatNode(node('a', T0));
      await kit.store.heartbeatNode(node('b', T0 + 1000, 7));
      assert.deepEqual(await kit.store.listNodes(), [node('a', T0), node('b', T0 + 1000, 7)]);
      // A heartbeat carries the node's traffic counters (the console sums them over the nodes).
      const counters = {
        c2d: { sent: 9, completed: 7, abandoned: 1, rejected: 1 },
        telemetry: { messages: 3, bytes: 30 },
      };
      await kit.store.heartbeatNode({ ...node('a', T0 + 2000), counters });
      assert.deepEqual((await kit.store.listNodes())[0], { ...node('a', T0 + 2000), counters });
    });

    test('a connect takes the device; a disconnect from another node leaves it Connected; activity only moves forward', async () => {
      assert.equal(await kit.store.getPresence('d'), undefined);
      await kit.store.writePresence([w('connect', 'd', 'a', T0), w('connect', 'd', 'b', T0 + 10)]);
      await kit.store.writePresence([w('disconnect', 'd', 'a', T0 + 20), w('activity', 'd', 'b', T0 + 30)]);
      await kit.store.writePresence([w('activity', 'd', 'a', T0 + 25)]);
      assert.deepEqual(await kit.store.getPresence('d'), presence('Connected', 'b', T0 + 10, T0 + 30));
      assert.equal(await kit.store.countConnected(), 1);
      await kit.store.writePresence([w('disconnect', 'd', 'b', T0 + 40)]);
      assert.deepEqual(await kit.store.getPresence('d'), presence('Disconnected', 'b', T0 + 40, T0 + 30));
      assert.equal(await kit.store.countConnected(), 0);
      // Activity without a connection (HTTPS) is recorded too.
      await kit.store.writePresence([w('activity', 'h', 'a', T0 + 50)]);
      assert.equal((await kit.store.getPresence('h'))?.lastActivityTime, T0 + 50);
      assert.equal((await kit.store.getPresence('h'))?.connectionState, 'Disconnected');
    });

    test('releaseNodes removes nodes silent for the timeout and disconnects their devices, once', async () => {
      await kit.store.heartbeatNode(node('dead', T0));
      await kit.store.heartbeatNode(node('live', T0 + 9_000));
      await kit.store.writePresence([w('connect', 'x', 'dead', T0), w('connect', 'y', 'live', T0)]);
      assert.deepEqual(await kit.store.releaseNodes(T0 + 10_000, release()), ['dead']);
      assert.deepEqual(await kit.store.releaseNodes(T0 + 10_000, release()), []);
      assert.deepEqual(
        (await kit.store.listNodes()).map((n) => n.nodeId),
        ['live'],
      );
      assert.equal((await kit.store.getPresence('x'))?.connectionState, 'Disconnected');
      assert.equal((await kit.store.getPresence('x'))?.connectionStateUpdatedTime, T0 + 10_000);
      assert.equal((await kit.store.getPresence('y'))?.connectionState, 'Connected');
      // A node named is released whatever its heartbeat (a node leaving on stop).
      assert.deepEqual(await kit.store.releaseNodes(T0 + 10_000, release('live')), ['live']);
      assert.equal(await kit.store.countConnected(), 0);
    });

    test("a released node's locks expire at the release: the messages return to Enqueued, not counted", async () => {
      const { store, one } = kit;
      await store.insertDevice(device('held'));
      await store.insertDevice(device('elsewhere'));
      for (const id of ['held', 'elsewhere']) await one({ kind: 'enqueue', message: message(id, id) });
      const [held] = (await one({ kind: 'lease', deviceId: 'held', max: 1 })).deliveries;
      const [other] = (await one({ kind: 'lease', deviceId: 'elsewhere', max: 1 })).deliveries;
      await store.heartbeatNode(node('dead', T0));
      await store.heartbeatNode(node('live', T0 + 9_000));
      await store.writePresence([w('connect', 'held', 'dead', T0), w('connect', 'elsewhere', 'live', T0)]);
      const at = T0 + 10_000;
      assert.deepEqual(await store.releaseNodes(at, release()), ['dead']);
      assert.equal(await store.nextDeadline(POLICY), at);
      assert.deepEqual(await one({ kind: 'expire', limit: 100 }, at), {
        ok: true,
        expired: 0,
        locksExpired: 1,
        more: false,
      });
      const [again] = (await one({ kind: 'lease', deviceId: 'held', max: 1 }, at)).deliveries;
      assert.deepEqual([again?.body.toString(), again?.deliveryCount], ['held', held!.deliveryCount]);
      // The live node's device keeps its lock.
      assert.deepEqual(await one({ kind: 'lease', deviceId: 'elsewhere', max: 1 }, at), { ok: true, deliveries: [] });
      assert.equal(
        (await one({ kind: 'settle', deviceId: 'elsewhere', lockToken: other!.lockToken, action: 'complete' }, at)).ok,
        true,
      );
    });

    test("a device that moved from a dead node before its release: the locks made before the move expire, not the new node's", async () => {
      const { store, one } = kit;
      await store.insertDevice(device('moved'));
      for (const text of ['m1', 'm2']) await one({ kind: 'enqueue', message: message('moved', text) });
      await store.heartbeatNode(node('dead', T0));
      await store.heartbeatNode(node('live', T0 + 9_000));
      // Connected on the node that dies with m1 locked; back on the live node 5 s later, which leases m2.
      await store.writePresence([w('connect', 'moved', 'dead', T0)]);
      const [m1] = (await one({ kind: 'lease', deviceId: 'moved', max: 1 }, T0 + 1000)).deliveries;
      await store.writePresence([w('connect', 'moved', 'live', T0 + 5000)]);
      const [m2] = (await one({ kind: 'lease', deviceId: 'moved', max: 1 }, T0 + 5000)).deliveries;
      assert.deepEqual([m1?.body.toString(), m2?.body.toString()], ['m1', 'm2']);
      const at = T0 + 10_000;
      assert.deepEqual(await store.releaseNodes(at, release()), ['dead']);
      assert.equal((await store.getPresence('moved'))?.connectionState, 'Connected', 'still on the live node');
      assert.deepEqual(await one({ kind: 'expire', limit: 100 }, at), {
        ok: true,
        expired: 0,
        locksExpired: 1,
        more: false,
      });
      const [again] = (await one({ kind: 'lease', deviceId: 'moved', max: 1 }, at)).deliveries;
      assert.equal(again?.body.toString(), 'm1');
      assert.equal(
        (await one({ kind: 'settle', deviceId: 'moved', lockToken: m2!.lockToken, action: 'complete' }, at)).ok,
        true,
        "the live node's lock holds",
      );
    });

    test('a device that left a node cleanly is not released with it; a later move is recorded again', async () => {
      const { store, one } = kit;
      await store.insertDevice(device('clean'));
      await one({ kind: 'enqueue', message: message('clean', 'c1') });
      await store.heartbeatNode(node('old', T0));
      await store.heartbeatNode(node('new', T0 + 9_000));
      await store.writePresence([w('connect', 'clean', 'old', T0), w('disconnect', 'clean', 'old', T0 + 100)]);
      await store.writePresence([w('connect', 'clean', 'new', T0 + 200)]);
      const [c1] = (await one({ kind: 'lease', deviceId: 'clean', max: 1 }, T0 + 300)).deliveries;
      assert.deepEqual(await store.releaseNodes(T0 + 10_000, release()), ['old']);
      assert.equal((await one({ kind: 'expire', limit: 100 }, T0 + 10_000)).locksExpired, 0);
      assert.equal(
        (await one({ kind: 'settle', deviceId: 'clean', lockToken: c1!.lockToken, action: 'complete' }, T0 + 10_000))
          .ok,
        true,
      );
    });
  });
}
