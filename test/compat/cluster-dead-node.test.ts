/**
 * A node killed (SIGKILL) while it holds a device's C2D messages locked (issue 28): the device
 * comes back on the other node at once, before the dead node is released, and gets those messages
 * there once the release comes (cluster.nodeTimeoutMs), not after the lock timeout. Two real
 * `ferry hub start` processes on one PostgreSQL schema, the official AMQP device client.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import common from 'azure-iot-common';
import { c2dMessage, openAmqpDevice, openService, type Service } from './amqp-helpers.js';
import { type HubProcess, startHub } from './harness.js';
import { atNode, clusterStore, dropSchema } from './helpers/postgres.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 120_000 };
const store = clusterStore('deadnode');
const NODE_TIMEOUT_MS = 3000;
// Far longer than the test: a message that comes back came back by the release, not by expiry.
const LOCK_TIMEOUT_MS = 300_000;
const config = {
  feedback: { batchDelayMs: 0 },
  cluster: { nodeTimeoutMs: NODE_TIMEOUT_MS },
  c2d: { lockTimeoutMs: LOCK_TIMEOUT_MS },
};
let a: HubProcess;
let b: HubProcess;
let service: Service;
let failed = false;

before(async () => {
  [a, b] = await Promise.all([startHub({ store, config }), startHub({ store, config })]);
  service = await openService(b, 'Amqp');
});

afterEach((t) => {
  if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
});

after(async () => {
  await service?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  if (!failed) await dropSchema(store.schema);
});

test(
  'a device back on node B before SIGKILLed node A is released gets the messages A had locked, after cluster.nodeTimeoutMs',
  T,
  async (t) => {
    const cs = await b.createDevice('moved');
    const first = await openAmqpDevice(a, atNode(cs, a.address), 'Amqp');
    // Its client would retry node A for minutes (and keep the test process alive).
    first.client.setRetryPolicy(new common.NoRetry());
    for (const id of ['held-1', 'held-2'])
      await withTimeout(service.client.send('moved', c2dMessage(id, { messageId: id })), 20_000, 'send');
    // Delivered on node A and not settled: locked there for LOCK_TIMEOUT_MS.
    const held = [await first.inbox.next(15_000), await first.inbox.next(15_000)].map((m) => m.messageId);
    assert.deepEqual(held, ['held-1', 'held-2']);
    await a.kill();
    await first.close();
    const killedAt = Date.now();
    const second = await openAmqpDevice(b, cs, 'Amqp');
    try {
      // A message sent after the move comes at once: node B serves the device.
      await withTimeout(service.client.send('moved', c2dMessage('after', { messageId: 'after' })), 20_000, 'send');
      const fresh = await second.inbox.next(15_000);
      assert.equal(fresh.messageId, 'after');
      await withTimeout(second.client.complete(fresh), 10_000, 'complete after');
      // Node A's locks are released with node A: within the node timeout, a heartbeat and the 5 s
      // in which node B re-reads its next deadline; far before the lock timeout.
      const again = [await second.inbox.next(30_000), await second.inbox.next(15_000)];
      const waited = Date.now() - killedAt;
      assert.deepEqual(
        again.map((m) => m.messageId),
        ['held-1', 'held-2'],
      );
      assert.ok(waited >= NODE_TIMEOUT_MS, `came back ${waited} ms after the kill: before node A's release`);
      assert.ok(waited < 30_000, `came back ${waited} ms after the kill`);
      t.diagnostic(`node A's locked messages came back on node B ${waited} ms after the kill`);
      for (const m of again) await withTimeout(second.client.complete(m), 10_000, 'complete');
    } finally {
      await second.close();
    }
  },
);
