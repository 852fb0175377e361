/**
 * GET /nodes (issue 28, a Ferry extension) on a whole in-process hub: the hub lists itself with its
 * address, its connections and its last heartbeat; after stop() it has released itself.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../src/clock.js';
import { Hub } from '../src/hub.js';
import { hubCall } from './hub-call.js';
import { ADDRESS, inProcessHubConfig, removeHubDirs } from './in-process-hub.js';

after(removeHubDirs);

test('GET /nodes lists this node; a device-scoped credential is refused', async () => {
  const clock = new ManualClock();
  const hub = await Hub.start(inProcessHubConfig('ferry-nodes-test-'), { logger: pino({ level: 'silent' }), clock });
  try {
    const reply = await hubCall(hub, 'GET', '/nodes');
    assert.equal(reply.status, 200, reply.text);
    const body = JSON.parse(reply.text) as {
      connectedDevices: number;
      nodes: Array<{ address: string; connections: number; lastHeartbeatTimeUtc: string }>;
    };
    assert.equal(body.connectedDevices, 0);
    assert.equal(body.nodes.length, 1);
    assert.equal(body.nodes[0]!.address, `${ADDRESS}:${hub.ports.https}`);
    assert.equal(body.nodes[0]!.connections, 0);
    assert.equal(body.nodes[0]!.lastHeartbeatTimeUtc, new Date(clock.now()).toISOString());
    assert.equal((await hubCall(hub, 'GET', '/nodes', { policy: 'device' })).status, 401);
  } finally {
    await hub.stop();
  }
});
