/**
 * Storage failure (issue 7): a full disk answered sends with a bare 500 that told the client
 * nothing. Storage faults now answer ServerBusy (HTTP 503 + iothub-errorcode, AMQP
 * com.microsoft:server-busy) saying the hub's storage is full or failing, log one error line,
 * drop ferry_storage_healthy and /ready, and the hub recovers by itself; nothing is acknowledged
 * that was not committed. The end-to-end case makes SQLITE_FULL real with PRAGMA max_page_count.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { FerryError } from '@ferry/common';
import type Database from 'better-sqlite3';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Hub } from '../src/hub.js';
import { guardStore, StorageHealth, storageFault } from '../src/store/storage-health.js';
import { c2d, startAmqpHarness } from './amqp-harness.js';
import { hubCall } from './hub-call.js';
import { ADDRESS, freePort, inProcessHubConfig, removeHubDirs } from './in-process-hub.js';

after(removeHubDirs);

function capture() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

const sqliteError = (code: string) => Object.assign(new Error(`disk trouble (${code})`), { code });

describe('storage faults through the guard', () => {
  test('faults become ServerBusy, logged once, counted; the failed call succeeding again recovers', async () => {
    const log = capture();
    const registry = new Registry();
    const health = new StorageHealth(log.logger, registry);
    let full = true;
    const store = {
      async commit() {
        if (full) throw sqliteError('SQLITE_FULL');
        return { results: [] };
      },
      async read() {
        return 'fine';
      },
      async broken() {
        throw new TypeError('a bug, not a storage fault');
      },
    };
    const guarded = guardStore(store, health);
    for (let i = 0; i < 5; i++) {
      await assert.rejects(guarded.commit(), (err: unknown) => {
        assert.ok(err instanceof FerryError);
        assert.equal(err.errorName, 'ServerBusy');
        assert.equal(err.httpStatus, 503);
        assert.equal(err.amqpCondition, 'com.microsoft:server-busy');
        assert.match(err.message, /storage is full or failing \(SQLITE_FULL\)/);
        return true;
      });
    }
    // Reads working do not mean writes do.
    assert.equal(await guarded.read(), 'fine');
    assert.equal(health.healthy, false);
    await assert.rejects(guarded.broken(), TypeError);
    assert.equal(log.lines.filter((l) => l.level === 50).length, 1, 'one error line for five failures');
    let text = await registry.metrics();
    assert.match(text, /ferry_storage_healthy 0/);
    assert.match(text, /ferry_storage_failures_total\{code="SQLITE_FULL"\} 5/);
    full = false;
    await guarded.commit();
    assert.equal(health.healthy, true);
    text = await registry.metrics();
    assert.match(text, /ferry_storage_healthy 1/);
    assert.equal(log.lines.filter((l) => l.msg.startsWith('storage recovered')).length, 1);
  });

  test('which errors are storage faults', () => {
    for (const code of [
      'SQLITE_FULL',
      'SQLITE_IOERR',
      'SQLITE_IOERR_WRITE',
      'SQLITE_READONLY',
      'ENOSPC',
      '53100',
      '58030',
    ]) {
      assert.equal(storageFault(sqliteError(code)), code);
    }
    for (const code of ['SQLITE_CONSTRAINT', 'SQLITE_BUSY', 'ERR_ASSERTION', '23505']) {
      assert.equal(storageFault(sqliteError(code)), undefined);
    }
    assert.equal(storageFault(new Error('no code')), undefined);
  });
});

test('AMQP: a send the store cannot take is rejected with com.microsoft:server-busy', async () => {
  const health = new StorageHealth(pino({ level: 'silent' }), new Registry());
  const h = await startAmqpHarness({
    wrapEngine: (engine) =>
      Object.assign(Object.create(engine) as typeof engine, {
        sendMany: async (items: readonly unknown[]) =>
          items.map(() => health.fault('commit', 'SQLITE_FULL', sqliteError('SQLITE_FULL'))),
      }),
  });
  try {
    await h.createDevice('dev1');
    const c = await h.connect();
    assert.equal((await c.putToken(h.serviceToken())).status, 200);
    const { link } = await c.attachSender('/messages/devicebound');
    const out = await c.send(link, c2d('dev1', 'x'));
    assert.equal(out.state, 'rejected');
    assert.equal(out.error?.condition, 'com.microsoft:server-busy');
    assert.match(String(out.error?.description), /storage is full or failing/);
    await c.close();
  } finally {
    await h.close();
  }
});

function ready(port: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    get({ host: ADDRESS, port, path: '/ready', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    }).on('error', reject);
  });
}

test('a real SQLITE_FULL: HTTPS 503 ServerBusy, /ready 503, one error line; space freed, the hub recovers', async () => {
  const port = await freePort();
  const config = inProcessHubConfig('ferry-full-test-', { observability: { port, bind: ADDRESS } });
  const log = capture();
  const hub = await Hub.start(config, { logger: log.logger });
  try {
    assert.equal((await hubCall(hub, 'PUT', '/devices/d1', { body: JSON.stringify({ deviceId: 'd1' }) })).status, 200);
    // The database may not grow past a few more pages: the disk is "full" for SQLite itself.
    const db = (hub as unknown as { parts: { store: { db: Database.Database } } }).parts.store.db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 4}`);
    const body = 'x'.repeat(3000);
    let stored = 0;
    let answer = { status: 0, text: '' };
    for (let i = 0; i < 100; i++) {
      answer = await hubCall(hub, 'POST', '/devices/d1/messages/deviceBound', { body });
      if (answer.status !== 204) break;
      stored++;
    }
    assert.equal(answer.status, 503);
    assert.match(answer.text, /ErrorCode:ServerBusy;The hub's storage is full or failing \(SQLITE_FULL\)/);
    for (let i = 0; i < 5; i++) {
      assert.equal((await hubCall(hub, 'POST', '/devices/d1/messages/deviceBound', { body })).status, 503);
    }
    assert.equal((await ready(port)).status, 503);
    assert.match((await ready(port)).text, /storage failing/);
    const errors = log.lines.filter((l) => l.level >= 50);
    assert.equal(errors.length, 1, JSON.stringify(errors.map((l) => l.msg)));
    assert.match(errors[0]!.msg, /storage is full or failing/);

    // Space is freed: the next send is stored and the hub is ready again, by itself.
    db.pragma('max_page_count = 1073741823');
    assert.equal((await hubCall(hub, 'POST', '/devices/d1/messages/deviceBound', { body })).status, 204);
    assert.equal((await ready(port)).status, 200);
    // Everything acknowledged is there, and nothing else.
    const device = JSON.parse((await hubCall(hub, 'GET', '/devices/d1')).text) as { cloudToDeviceMessageCount: number };
    assert.equal(device.cloudToDeviceMessageCount, stored + 1);
  } finally {
    await hub.stop();
  }
});
