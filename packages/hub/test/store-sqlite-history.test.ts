/**
 * SQLite's message history storage (docs/message-history.md, Storage): a database whose history
 * was written one row per step (migration 10) is carried over by migration 12 and reads back the
 * same as the old reader read it (history-rows.ts visibleSteps + historyEventOf); the scheduler then
 * removes the copies in the order they ended. The hot path: a message sent to a waiting receiver
 * and completed writes one history row, appended to c2d_history_recent; every MOVE_AT copies move
 * to the indexed c2d_history, and reads, retention and device deletes see both tables.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { historyEventOf, visibleSteps } from '../src/store/history-rows.js';
import { MOVE_AT } from '../src/store/sqlite/history-table.js';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { QueueOp, QueuePolicy } from '../src/store/types.js';
import { device, message, POLICY, T0 } from './store-contract-kit.js';

const HOUR = 3_600_000;
const ON: QueuePolicy = { ...POLICY, history: { retentionMs: HOUR } };
const dir = mkdtempSync(join(tmpdir(), 'ferry-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const FEEDBACK = {
  originalMessageId: 'm',
  enqueuedTimeUtc: new Date(T0 + 20).toISOString(),
  statusCode: 'Rejected',
  description: 'Message rejected',
  deviceId: 'd',
  deviceGenerationId: 'g-d',
};

/** Migration-10 rows: [device, message id, seq, kind, at, count, final, lock token, via, detail]. */
const OLD_ROWS: Array<
  [string, string, number, string, number, number, number, string | null, string | null, string | null]
> = [
  ['d', 'm', 1, 'enqueued', T0, 0, 0, null, 'service', '{"jobId":"job-1"}'],
  ['d', 'm', 1, 'delivered', T0 + 10, 0, 0, 'tok-1', 'mqtt', null],
  ['d', 'p', 3, 'enqueued', T0 + 15, 0, 0, null, 'ops "a"', null],
  ['d', 'm', 1, 'rejected', T0 + 20, 0, 1, null, null, JSON.stringify({ feedback: FEEDBACK })],
  ['d', 'm', 1, 'requeued', T0 + 30, 0, 1, null, null, '{"requeuedAs":2}'],
  ['d', 'm', 2, 'enqueued', T0 + 30, 0, 0, null, null, '{"requeuedFrom":1}'],
  ['d', 'm', 2, 'delivered', T0 + 35, 0, 0, 'tok-2', 'amqp', null],
  ['d', 'm', 2, 'abandoned', T0 + 36, 1, 0, null, null, null],
  ['d', 'p', 3, 'delivered', T0 + 38, 0, 0, 'tok-3', 'https', null],
  ['d', 'm', 2, 'completed', T0 + 40, 1, 1, null, null, null],
  // Left behind (the retention turned to 0 while it was pending): neither ended nor queued.
  ['d', 'o', 9, 'enqueued', T0 + 45, 0, 0, null, null, null],
];

/** A database at migration 11 with the rows above and the pending message 'p' (seq 3). */
function version11Database(path: string): void {
  const db = new Database(path);
  db.exec(
    'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
  );
  for (const m of MIGRATIONS.filter((m) => m.version <= 11)) {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
  }
  db.prepare(`INSERT INTO devices (device_id, generation_id, etag, status, status_updated_time, auth_type, iot_edge,
    next_seq) VALUES ('d', 'g-d', 'e', 'enabled', 'x', 'sas', 0, 4)`).run();
  db.prepare(`INSERT INTO c2d_messages (device_id, seq, message_id, ack, expiry, enqueued_at, properties, body)
    VALUES ('d', 3, 'p', '', ?, ?, '{}', ?)`).run(T0 + 3 * HOUR, T0 + 15, Buffer.from('p'));
  const insert = db.prepare(`INSERT INTO c2d_history (device_id, message_id, seq, kind, at, delivery_count, final,
    lock_token, via, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  for (const r of OLD_ROWS) insert.run(...r);
  db.close();
}

/** What the migration-10 reader answered for a message id at `now`. */
function oldReader(messageId: string, now: number) {
  const rows = OLD_ROWS.map((r, i) => ({
    id: i + 1,
    message_id: r[1],
    seq: r[2],
    kind: r[3] as never,
    at: r[4],
    delivery_count: r[5],
    final: r[6],
    lock_token: r[7],
    via: r[8],
    detail: r[9],
  }))
    .filter((r) => r.message_id === messageId)
    .sort((a, b) => a.seq - b.seq || a.id - b.id);
  return visibleSteps(rows, now - HOUR).map(historyEventOf);
}

test('a database with one history row per step (migration 10) reads back the same after migration 12', async () => {
  const path = join(dir, 'v11.db');
  version11Database(path);
  const store = new SqliteStore({ path });
  for (const id of ['m', 'p', 'o']) {
    for (const now of [T0 + 100, T0 + 20 + HOUR, T0 + 40 + HOUR]) {
      assert.deepEqual(
        await store.messageHistory('d', id, now, HOUR),
        id === 'o' ? [] : oldReader(id, now),
        `${id} at ${now - T0}`,
      );
    }
  }
  assert.equal((await store.messageHistory('d', 'm', T0 + 100, HOUR)).length, 8);
  // The copies go in the order they ended: seq 1 (rejected at 20), then seq 2 (completed at 40).
  assert.equal(await store.nextDeadline(ON), T0 + 20 + HOUR);
  await store.commit([{ kind: 'expire', limit: 100 }], T0 + 20 + HOUR, ON);
  assert.deepEqual(
    (await store.messageHistory('d', 'm', T0, 10 * HOUR)).map((e) => e.sequenceNumber),
    [2, 2, 2, 2],
    'copy 1 removed',
  );
  assert.equal(await store.nextDeadline(ON), T0 + 40 + HOUR);
  // The pending copy goes on from its carried-over steps.
  const [d] = (await store.commit([{ kind: 'lease', deviceId: 'd', max: 1 }], T0 + 50, ON)).results as never as [
    { deliveries: Array<{ lockToken: string }> },
  ];
  const lockToken = d.deliveries[0]!.lockToken;
  await store.commit([{ kind: 'settle', deviceId: 'd', lockToken, action: 'abandon' }], T0 + 60, ON);
  assert.deepEqual(
    (await store.messageHistory('d', 'p', T0 + 100, HOUR)).map((e) => [e.kind, e.at - T0, e.deliveryCount]),
    [
      ['enqueued', 15, 0],
      ['delivered', 38, 0],
      ['delivered', 50, 0],
      ['abandoned', 60, 1],
    ],
  );
  await store.close();
});

test('a message sent to a waiting receiver and completed writes one history row; its steps ride in its queue row', async () => {
  const path = join(dir, 'hot.db');
  const store = new SqliteStore({ path });
  await store.insertDevice(device('d'));
  const sent = await store.commit(
    [
      { kind: 'enqueue', message: message('d', 'x', { messageId: 'hot' }), origin: { policy: 'service' } },
      { kind: 'lease', deviceId: 'd', max: 1, direct: true, protocol: 'mqtt' },
    ],
    T0,
    ON,
  );
  const lockToken = (sent.results[1] as { deliveries: Array<{ lockToken: string }> }).deliveries[0]!.lockToken;
  const db = new Database(path, { readonly: true });
  const count = () => (db.prepare('SELECT COUNT(*) AS n FROM c2d_history_recent').get() as { n: number }).n;
  assert.equal(count(), 0, 'pending: nothing in c2d_history');
  await store.commit([{ kind: 'settle', deviceId: 'd', lockToken, action: 'complete' }], T0 + 5, ON);
  assert.equal(count(), 1);
  db.close();
  assert.deepEqual(await store.messageHistory('d', 'hot', T0 + 10, HOUR), [
    { sequenceNumber: 1, kind: 'enqueued', at: T0, deliveryCount: 0, policy: 'service' },
    { sequenceNumber: 1, kind: 'delivered', at: T0, deliveryCount: 0, lockToken, protocol: 'mqtt' },
    { sequenceNumber: 1, kind: 'completed', at: T0 + 5, deliveryCount: 0 },
  ]);
  await store.close();
});

test('every MOVE_AT ended copies move to c2d_history; reads, retention and device deletes see both tables', async () => {
  const path = join(dir, 'move.db');
  const store = new SqliteStore({ path });
  const devices = Array.from({ length: 100 }, (_, i) => `d${i}`);
  for (const id of devices) await store.insertDevice(device(id));
  const rounds = Math.ceil((MOVE_AT + 100) / devices.length);
  // Round r: each device is sent message `r` at T0 + 10 r (a waiting receiver takes it), completed 5 ms later.
  for (let r = 0; r < rounds; r++) {
    const sent = await store.commit(
      devices.flatMap((id): QueueOp[] => [
        { kind: 'enqueue', message: message(id, 'x', { messageId: `m${r}` }) },
        { kind: 'lease', deviceId: id, max: 1, direct: true, protocol: 'amqp' },
      ]),
      T0 + 10 * r,
      ON,
    );
    const tokens = sent.results
      .filter((_, i) => i % 2 === 1)
      .map((x) => (x as { deliveries: Array<{ lockToken: string }> }).deliveries[0]!.lockToken);
    await store.commit(
      devices.map((id, i): QueueOp => ({ kind: 'settle', deviceId: id, lockToken: tokens[i]!, action: 'complete' })),
      T0 + 10 * r + 5,
      ON,
    );
  }
  const db = new Database(path, { readonly: true });
  const count = (table: string, where = '') =>
    (db.prepare(`SELECT COUNT(*) AS n FROM ${table} ${where}`).get() as { n: number }).n;
  const total = rounds * devices.length;
  assert.deepEqual([count('c2d_history'), count('c2d_history_recent')], [MOVE_AT, total - MOVE_AT]);
  const last = rounds - 1;
  for (const r of [0, last]) {
    assert.deepEqual(
      (await store.messageHistory('d7', `m${r}`, T0 + 10 * last + 10, HOUR)).map((e) => [e.kind, e.at - T0]),
      [
        ['enqueued', 10 * r],
        ['delivered', 10 * r],
        ['completed', 10 * r + 5],
      ],
      `round ${r}`,
    );
  }
  assert.equal(await store.nextDeadline(ON), T0 + 5 + HOUR);
  // Past the retention: every moved copy, and the recent ones of the same rounds.
  const movedRounds = MOVE_AT / devices.length; // rounds 0 .. movedRounds - 1 (and part of the next)
  const now = T0 + 10 * movedRounds + 5 + HOUR;
  for (let more = true; more; ) {
    const { results } = await store.commit([{ kind: 'expire', limit: 1000 }], now, ON);
    more = (results[0] as { more: boolean }).more;
  }
  assert.equal(count('c2d_history'), 0);
  assert.equal(count('c2d_history_recent'), total - (Math.floor(movedRounds) + 1) * devices.length);
  assert.equal(await store.nextDeadline(ON), T0 + 10 * (Math.floor(movedRounds) + 1) + 5 + HOUR);
  assert.deepEqual(await store.messageHistory('d7', 'm0', T0, 10 * HOUR), []);
  assert.equal((await store.messageHistory('d7', `m${last}`, now, HOUR)).length, 3);
  await store.deleteDevice('d7');
  assert.equal(count('c2d_history_recent', "WHERE device_id = 'd7'"), 0);
  db.close();
  await store.close();
});
