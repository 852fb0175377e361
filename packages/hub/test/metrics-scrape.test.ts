/**
 * The README's promise "A scrape never queries the database", tested on a whole hub: every
 * method of every store adapter is counted while the hub runs, and a /metrics scrape must add
 * nothing to the count. A metric that reads the store (a queue depth, a device count) makes this
 * test fail with the store methods it called; keep such figures in memory, updated as the hub
 * works, as metrics.ts does.
 *
 * The hub runs on a ManualClock, so no deadline timer of its own queries the store while the
 * scrapes run; its SQLite store is in-process (the default), the same metrics code as any store.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../src/clock.js';
import type { Engine } from '../src/engine/index.js';
import { Hub } from '../src/hub.js';
import { loadNativeHeap } from '../src/observability/native-heap.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { WorkerStore } from '../src/store/sqlite/worker-store.js';
import { hubCall } from './hub-call.js';
import { ADDRESS, freePort, inProcessHubConfig, removeHubDirs } from './in-process-hub.js';

/** Store calls by method name, over every adapter class. */
const calls = new Map<string, number>();
const restores: Array<() => void> = [];

before(() => {
  for (const cls of [SqliteStore, WorkerStore, PostgresStore]) {
    const proto = cls.prototype as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (name === 'constructor' || typeof desc?.value !== 'function') continue;
      const original = desc.value as (...args: unknown[]) => unknown;
      const key = `${cls.name}.${name}`;
      proto[name] = function counted(this: unknown, ...args: unknown[]) {
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return original.apply(this, args);
      };
      restores.push(() => (proto[name] = original));
    }
  }
});

after(() => {
  for (const restore of restores) restore();
  removeHubDirs();
});

function snapshot(): Map<string, number> {
  return new Map(calls);
}

/** The store methods called since `before`, with how often: empty when none. */
function callsSince(before: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [key, n] of calls) {
    const d = n - (before.get(key) ?? 0);
    if (d > 0) out.push(`${key} x${d}`);
  }
  return out;
}

function scrape(port: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get({ host: ADDRESS, port, path: '/metrics', agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    })
      .on('timeout', function (this: { destroy(err: Error): void }) {
        this.destroy(new Error('GET /metrics: no answer within 10 s'));
      })
      .on('error', reject);
  });
}

test('a /metrics scrape makes no store call, on a hub with devices, queued and leased messages', async () => {
  const port = await freePort();
  const config = inProcessHubConfig('ferry-scrape-test-', { observability: { port, bind: ADDRESS } });
  const atStart = snapshot();
  const hub = await Hub.start(config, { logger: pino({ level: 'silent' }), clock: new ManualClock() });
  try {
    // The counter sees the hub's store: starting it read the policies, at least.
    assert.notDeepEqual(callsSince(atStart), [], 'no store call was counted while the hub started');

    // Some work for the metrics to show: devices, sends, one message leased and not settled.
    for (const id of ['scrape1', 'scrape2']) {
      const put = await hubCall(hub, 'PUT', `/devices/${id}`, { body: JSON.stringify({ deviceId: id }) });
      assert.equal(put.status, 200, put.text);
    }
    for (let i = 0; i < 3; i++) {
      const sent = await hubCall(hub, 'POST', '/devices/scrape1/messages/deviceBound', { body: `m${i}` });
      assert.equal(sent.status, 204, sent.text);
    }
    assert.equal((await hubCall(hub, 'GET', '/devices/scrape1/messages/deviceBound')).status, 200);
    // Commits and the scheduler's deadline reads that follow them are done before counting.
    await (hub as unknown as { parts: { engine: Engine } }).parts.engine.idle();

    const beforeScrapes = snapshot();
    let last = '';
    for (let i = 0; i < 5; i++) {
      const reply = await scrape(port);
      assert.equal(reply.status, 200, reply.text);
      last = reply.text;
    }
    assert.deepEqual(callsSince(beforeScrapes), [], 'a /metrics scrape called the store');
    // The scrapes did read the hub's figures (so they were real scrapes of this hub).
    assert.match(last, /ferry_c2d_sends_total\{result="ok"\} 3/);
    // The figures kept in memory for this (issue 32): pending counts, latencies, the process.
    assert.match(last, /^ferry_c2d_queue_messages\{state="Enqueued"\} 2$/m);
    assert.match(last, /^ferry_c2d_queue_messages\{state="Invisible"\} 1$/m);
    assert.match(last, /^ferry_c2d_delivery_seconds_count 1$/m);
    assert.match(last, /^ferry_store_commit_seconds_count [1-9]\d*$/m);
    assert.match(last, /^ferry_feedback_records_pending 0$/m);
    // Hub-wide connections as the heartbeat last read them (issue 28): none here.
    assert.match(last, /^ferry_hub_devices_connected 0$/m);
    assert.match(last, /^ferry_ready 1$/m);
    assert.match(last, /^process_resident_memory_bytes [1-9]\d*$/m);
    // glibc's heaps, through the native-memory addon (issue 29), wherever glibc is.
    if (await loadNativeHeap(() => {})) {
      for (const state of ['in_use', 'free', 'mmapped']) {
        assert.match(last, new RegExp(`^ferry_process_native_heap_bytes\\{state="${state}"\\} \\d+$`, 'm'));
      }
      assert.match(last, /^ferry_process_native_heap_bytes\{state="in_use"\} [1-9]\d*$/m);
    }
  } finally {
    await hub.stop();
  }
});
