import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isFerryError } from '@ferry/common';
import { pino } from 'pino';
import { parseConfig } from '../src/config/index.js';
import { Hub } from '../src/hub.js';
import { HubMetrics } from '../src/observability/metrics.js';
import { operationsHandler } from '../src/observability/operations.js';
import { hubCall } from './hub-call.js';

const ADDRESS = '127.0.0.1';
const logger = pino({ level: 'silent' });
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function listenOn(server: Server, port = 0): Promise<number> {
  return new Promise((resolve) =>
    server.listen(port, ADDRESS, () => resolve((server.address() as { port: number }).port)),
  );
}

/** observability.port 0 means "disabled", so a free port is found first and handed over. */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  const port = await listenOn(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

function config(operationsPort: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-ops-test-'));
  dirs.push(dataDir);
  return parseConfig({
    flags: {
      dataDir,
      hosts: [ADDRESS],
      bind: ADDRESS,
      ports: { https: 0, mqtts: 0, amqps: 0 },
      observability: { port: operationsPort, bind: ADDRESS },
    },
  });
}

interface Reply {
  status: number;
  type: string | undefined;
  text: string;
}

function scrape(port: number, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    get({ host: ADDRESS, port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], text }));
    }).on('error', reject);
  });
}

describe('a hub with the operations endpoint', () => {
  test('serves /metrics (counting a send over HTTPS), /health, /ready, 404 elsewhere; /ready drops at stop', async () => {
    const port = await freePort();
    const hub = await Hub.start(config(port), { logger });
    let stopped = false;
    try {
      assert.deepEqual(hub.operations, { address: ADDRESS, port });

      assert.equal(
        (await hubCall(hub, 'PUT', '/devices/ops1', { body: JSON.stringify({ deviceId: 'ops1' }) })).status,
        200,
      );
      assert.equal((await hubCall(hub, 'POST', '/devices/ops1/messages/deviceBound', { body: 'hello' })).status, 204);

      const metrics = await scrape(port, '/metrics');
      assert.equal(metrics.status, 200);
      assert.equal(metrics.type, hub.metrics.registry.contentType);
      assert.match(metrics.text, /^ferry_c2d_sends_total\{result="ok"\} 1$/m);
      assert.match(metrics.text, /^ferry_connections_total\{protocol="https",transport="tls"\} [1-9]/m);
      assert.match(metrics.text, /^ferry_c2d_operations_in_flight\{operation="send"\} 0$/m);
      assert.match(metrics.text, /# TYPE ferry_c2d_settles_total counter/);

      const health = await scrape(port, '/health');
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.text), { status: 'ok' });

      const ready = await scrape(port, '/ready');
      assert.equal(ready.status, 200);
      assert.deepEqual(JSON.parse(ready.text), { status: 'ready' });

      assert.equal((await scrape(port, '/nope')).status, 404);
      assert.equal((await scrape(port, '/metrics/extra')).status, 404);

      const stopping = hub.stop();
      // Not ready from the moment stop begins (the handler reads exactly this).
      assert.equal(hub.ready, false);
      await stopping;
      stopped = true;
      // Closed last, and closed for good: the port is free again.
      const again = createNetServer();
      assert.equal(await listenOn(again, port), port);
      await new Promise((resolve) => again.close(resolve));
    } finally {
      if (!stopped) await hub.stop();
    }
  });

  test('observability.port 0 serves nothing', async () => {
    const cfg = config(0);
    const hub = await Hub.start(cfg, { logger });
    try {
      assert.equal(hub.operations, undefined);
    } finally {
      await hub.stop();
    }
  });

  test('a taken operations port fails the start, names the setting, and leaves nothing bound', async () => {
    const blocker = createNetServer();
    const port = await listenOn(blocker);
    try {
      const cfg = config(port);
      await assert.rejects(Hub.start(cfg, { logger }), (err: Error) => {
        assert.ok(isFerryError(err, 'ServiceUnavailable'));
        assert.match(err.message, new RegExp(`port 127\\.0\\.0\\.1:${port} \\(operations\\) is already in use`));
        assert.match(err.message, /observability\.port \(FERRY_OBSERVABILITY_PORT; 0 disables/);
        return true;
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe('the operations handler', () => {
  async function serve(state: { ready: boolean; stopping: boolean }) {
    const { createServer } = await import('node:http');
    const server = createServer(
      operationsHandler({ metrics: new HubMetrics(), isReady: () => state.ready, isStopping: () => state.stopping }),
    );
    const port = await new Promise<number>((resolve) =>
      server.listen(0, ADDRESS, () => resolve((server.address() as { port: number }).port)),
    );
    return { port, close: () => new Promise((resolve) => server.close(resolve)) };
  }

  test('/ready is 503 "starting" before the start finishes and 503 "stopping" once stop begins', async () => {
    const state = { ready: false, stopping: false };
    const s = await serve(state);
    try {
      let r = await scrape(s.port, '/ready');
      assert.equal(r.status, 503);
      assert.deepEqual(JSON.parse(r.text), { status: 'starting' });
      state.ready = true;
      assert.equal((await scrape(s.port, '/ready')).status, 200);
      state.ready = false;
      state.stopping = true;
      r = await scrape(s.port, '/ready');
      assert.equal(r.status, 503);
      assert.deepEqual(JSON.parse(r.text), { status: 'stopping' });
      // Liveness does not follow readiness: the process still runs.
      assert.equal((await scrape(s.port, '/health')).status, 200);
    } finally {
      await s.close();
    }
  });
});
