/**
 * /ready through a PostgreSQL pause (issue 23): it stayed 200 through 20-35 s pauses while the node
 * could commit nothing, so a load balancer could not take the node out. Here a real PostgreSQL
 * holds this hub's backends with SIGSTOP (only this node's: the server and other tests go on):
 * /ready turns 503 "storage unavailable" once the idle node's probe is overdue
 * (observability.readyStoreTimeoutMs, short here), and 200 again by itself after SIGCONT.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import pg from 'pg';
import pino from 'pino';
import { Hub } from '../src/hub.js';
import { hubCall } from './hub-call.js';
import { ADDRESS, freePort, inProcessHubConfig, removeHubDirs } from './in-process-hub.js';
import { dropSchemasWhenPassed, PG_URL, testSchema } from './pg-test-db.js';

after(removeHubDirs);
dropSchemasWhenPassed();

function ready(port: number): Promise<{ status: number; body: { status: string; reason?: string } }> {
  return new Promise((resolve, reject) => {
    get({ host: ADDRESS, port, path: '/ready', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    }).on('error', reject);
  });
}

/** Asks /ready every 100 ms until it answers `status`; fails after 15 s. */
async function readyBecomes(port: number, status: number): Promise<{ status: string; reason?: string }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await ready(port);
    if (r.status === status) return r.body;
    if (Date.now() > deadline) assert.fail(`/ready still answers ${r.status} ${JSON.stringify(r.body)} after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The node's backends (pool and LISTEN connection), once every one of them is idle (holds nothing). */
async function idleBackends(admin: pg.Client, nodeId: string): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await admin.query<{ pid: number; state: string }>(
      'SELECT pid, state FROM pg_stat_activity WHERE application_name IN ($1, $2)',
      [`ferry-${nodeId}`, `ferry-signals-${nodeId}`],
    );
    if (rows.length > 0 && rows.every((r) => r.state === 'idle')) return rows.map((r) => r.pid);
    if (Date.now() > deadline) assert.fail(`the node's backends are not idle: ${JSON.stringify(rows)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function signal(pids: readonly number[], sig: 'SIGSTOP' | 'SIGCONT'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

test('/ready turns 503 "storage unavailable" while this node\'s PostgreSQL backends are paused, and 200 after', async () => {
  const port = await freePort();
  const config = inProcessHubConfig('ferry-ready-pg-test-', {
    observability: { port, bind: ADDRESS, readyStoreTimeoutMs: 1000 },
    store: { kind: 'postgres', url: PG_URL, schema: testSchema() },
  });
  const lines: Array<{ msg: string; node?: string; reason?: string }> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        cb();
      },
    }),
  );
  const hub = await Hub.start(config, { logger });
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  let paused: number[] = [];
  try {
    const nodeId = lines.find((l) => l.msg === 'PostgreSQL store open')?.node;
    assert.ok(nodeId, 'the hub logs its node id');
    // Some work, so the pool holds connections, then an idle node.
    assert.equal((await hubCall(hub, 'PUT', '/devices/d1', { body: JSON.stringify({ deviceId: 'd1' }) })).status, 200);
    assert.equal((await hubCall(hub, 'POST', '/devices/d1/messages/deviceBound', { body: 'one' })).status, 204);
    assert.deepEqual(await readyBecomes(port, 200), { status: 'ready' });

    paused = await idleBackends(admin, nodeId);
    signal(paused, 'SIGSTOP');
    try {
      const body = await readyBecomes(port, 503);
      assert.equal(body.status, 'storage unavailable');
      assert.match(body.reason ?? '', /a commit has been waiting \d+ ms \(observability\.readyStoreTimeoutMs 1000\)/);
      assert.ok(lines.some((l) => l.msg === 'the store cannot commit: /ready answers 503'));
    } finally {
      signal(paused, 'SIGCONT');
    }
    assert.deepEqual(await readyBecomes(port, 200), { status: 'ready' });
    assert.ok(lines.some((l) => l.msg === 'the store commits again: /ready answers 200'));
    // And the node commits again.
    assert.equal((await hubCall(hub, 'POST', '/devices/d1/messages/deviceBound', { body: 'two' })).status, 204);
  } finally {
    signal(paused, 'SIGCONT');
    await admin.end();
    await hub.stop();
  }
});
