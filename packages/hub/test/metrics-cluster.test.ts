/**
 * The pending counts across restarts and nodes: a hub restarted on its data is seeded with what
 * the last run left; on several nodes of one hub (a PostgreSQL store) each node's series carry its
 * node id, the one its log prints, and a node that starts later counts what the other queued.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../src/config/index.js';
import { Hub } from '../src/hub.js';
import { eventually } from './deadline.js';
import { hubCall } from './hub-call.js';
import { dropSchemasWhenPassed, PG_URL, testSchema } from './pg-test-db.js';

dropSchemasWhenPassed();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('a hub restarted on its data counts the messages the last run left, and what it leased them into', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-metrics-restart-'));
  dirs.push(dataDir);
  const config = parseConfig({
    flags: {
      dataDir,
      hosts: ['127.0.0.1'],
      bind: '127.0.0.1',
      ports: { https: 0, mqtts: 0, amqps: 0 },
      observability: { port: 0 },
    },
  });
  const logger = pino({ level: 'silent' });
  const first = await Hub.start(config, { logger });
  try {
    const put = await hubCall(first, 'PUT', '/devices/restart-m', { body: JSON.stringify({ deviceId: 'restart-m' }) });
    assert.equal(put.status, 200, put.text);
    for (let i = 0; i < 4; i++) {
      const sent = await hubCall(first, 'POST', '/devices/restart-m/messages/deviceBound', { body: `m${i}` });
      assert.equal(sent.status, 204, sent.text);
    }
    // A device's HTTPS receive leases one (60 s lock): Invisible across the restart.
    const got = await hubCall(first, 'GET', '/devices/restart-m/messages/deviceBound', { policy: 'iothubowner' });
    assert.equal(got.status, 200, got.text);
  } finally {
    await first.stop();
  }
  const again = await Hub.start(config, { logger });
  try {
    const text = await again.metrics.text();
    assert.match(text, /^ferry_c2d_queue_messages\{state="Enqueued"\} 3$/m);
    assert.match(text, /^ferry_c2d_queue_messages\{state="Invisible"\} 1$/m);
  } finally {
    await again.stop();
  }
});

/** A node of the hub in `schema`, and the node id its log printed. */
async function node(schema: string, nodeTimeoutMs?: number): Promise<{ hub: Hub; nodeId: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-metrics-cluster-'));
  dirs.push(dataDir);
  const config = parseConfig({
    flags: {
      dataDir,
      hosts: ['127.0.0.1'],
      bind: '127.0.0.1',
      ports: { https: 0, mqtts: 0, amqps: 0 },
      observability: { port: 0 },
      store: { kind: 'postgres', url: PG_URL, schema },
      ...(nodeTimeoutMs ? { cluster: { nodeTimeoutMs } } : {}),
    },
  });
  let nodeId = '';
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) {
          const line = l ? (JSON.parse(l) as { msg: string; node?: string }) : undefined;
          if (line?.msg === 'PostgreSQL store open' && line.node) nodeId = line.node;
        }
        cb();
      },
    }),
  );
  const hub = await Hub.start(config, { logger });
  assert.ok(nodeId, 'the node logged its id');
  return { hub, nodeId };
}

test("each node's series carry its node id; a node started later counts the queues the other filled", async () => {
  const schema = testSchema();
  const a = await node(schema);
  let b: { hub: Hub; nodeId: string } | undefined;
  try {
    const put = await hubCall(a.hub, 'PUT', '/devices/cluster-m', { body: JSON.stringify({ deviceId: 'cluster-m' }) });
    assert.equal(put.status, 200, put.text);
    for (let i = 0; i < 3; i++) {
      const sent = await hubCall(a.hub, 'POST', '/devices/cluster-m/messages/deviceBound', { body: `m${i}` });
      assert.equal(sent.status, 204, sent.text);
    }
    const textA = await a.hub.metrics.text();
    assert.match(textA, new RegExp(`^ferry_c2d_queue_messages\\{state="Enqueued",node="${a.nodeId}"\\} 3$`, 'm'));
    assert.match(textA, new RegExp(`^ferry_c2d_sends_total\\{result="ok",node="${a.nodeId}"\\} 3$`, 'm'));
    assert.match(textA, new RegExp(`^process_resident_memory_bytes\\{node="${a.nodeId}"\\} [1-9]`, 'm'));

    b = await node(schema);
    assert.notEqual(b.nodeId, a.nodeId);
    const textB = await b.hub.metrics.text();
    assert.match(textB, new RegExp(`^ferry_c2d_queue_messages\\{state="Enqueued",node="${b.nodeId}"\\} 3$`, 'm'));
    assert.doesNotMatch(textB, /^ferry_c2d_sends_total\{/m, 'B sent nothing itself');
    assert.match(textB, new RegExp(`^nodejs_eventloop_lag_seconds\\{node="${b.nodeId}"\\} `, 'm'));
  } finally {
    await b?.hub.stop();
    await a.hub.stop();
  }
});

test("each node's ferry_hub_devices_connected counts the devices connected on every node, under its node label", async () => {
  const schema = testSchema();
  // Heartbeats every third of a second: each reads the hub-wide count.
  const [a, b] = [await node(schema, 1000), await node(schema, 1000)];
  try {
    const put = await hubCall(a.hub, 'PUT', '/devices/gauge-d', { body: JSON.stringify({ deviceId: 'gauge-d' }) });
    assert.equal(put.status, 200, put.text);
    // The device connects to node A (as its gateways record it); node B's scrape counts it.
    a.hub.registry.setConnectionState('gauge-d', 'Connected');
    const gauge = (n: { nodeId: string }) => new RegExp(`^ferry_hub_devices_connected\\{node="${n.nodeId}"\\} 1$`, 'm');
    await eventually(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return gauge(b).test(await b.hub.metrics.text());
    }, "node B's gauge counting the device on node A");
    assert.match(await a.hub.metrics.text(), gauge(a));
    assert.doesNotMatch(await b.hub.metrics.text(), /^ferry_connections\{.*\} [1-9]/m, 'B holds no connection itself');
  } finally {
    await b.hub.stop();
    await a.hub.stop();
  }
});
