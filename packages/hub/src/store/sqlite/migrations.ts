/**
 * Versioned schema. Migrations are an ordered list; each runs once, in its own transaction, and is
 * recorded in schema_migrations. Never edit a released migration: append a new one.
 */
import type Database from 'better-sqlite3';
import { clusterTablesSql, movedColumnsSql, nodeCountersSql } from '../cluster-sql.js';
import { HISTORY_PER_COPY_SQL, HISTORY_RECENT_SQL } from './history-migration.js';
import { JOB_TABLES_SQL } from './job-tables.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry, c2d queues, feedback',
    sql: `
      CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        generation_id TEXT NOT NULL,
        etag TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        status_updated_time TEXT NOT NULL,
        auth_type TEXT NOT NULL,
        primary_key TEXT,
        secondary_key TEXT,
        primary_thumbprint TEXT,
        secondary_thumbprint TEXT,
        iot_edge INTEGER NOT NULL,
        -- per-device sequence numbers; kept here so a device's counter dies with it
        next_seq INTEGER NOT NULL DEFAULT 1
      );
      CREATE TABLE policies (
        key_name TEXT PRIMARY KEY,
        primary_key TEXT NOT NULL,
        secondary_key TEXT NOT NULL,
        rights TEXT NOT NULL
      );
      CREATE TABLE mqtt_sessions (
        device_id TEXT PRIMARY KEY,
        c2d_qos INTEGER
      );
      -- Pending C2D messages. lock_token NULL = Enqueued, else Invisible. Gone messages are deleted.
      CREATE TABLE c2d_messages (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        message_id TEXT,
        correlation_id TEXT,
        user_id TEXT,
        content_type TEXT,
        content_encoding TEXT,
        ack TEXT NOT NULL,
        expiry INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL,
        properties TEXT NOT NULL,
        body BLOB NOT NULL,
        delivery_count INTEGER NOT NULL DEFAULT 0,
        leased_before INTEGER NOT NULL DEFAULT 0,
        lock_token TEXT,
        locked_until INTEGER
      );
      CREATE UNIQUE INDEX c2d_messages_device_seq ON c2d_messages (device_id, seq);
      CREATE INDEX c2d_messages_expiry ON c2d_messages (expiry);
      CREATE INDEX c2d_messages_locked_until ON c2d_messages (locked_until) WHERE lock_token IS NOT NULL;
      CREATE UNIQUE INDEX c2d_messages_lock_token ON c2d_messages (lock_token) WHERE lock_token IS NOT NULL;
      -- Per-device paths: next Enqueued message, and what is due for one device.
      CREATE INDEX c2d_messages_enqueued ON c2d_messages (device_id, seq) WHERE lock_token IS NULL;
      CREATE INDEX c2d_messages_device_expiry ON c2d_messages (device_id, expiry);
      CREATE INDEX c2d_messages_device_locked ON c2d_messages (device_id, locked_until) WHERE lock_token IS NOT NULL;
      -- Feedback records not yet in a batch.
      CREATE TABLE feedback_pending (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        record TEXT NOT NULL
      );
      CREATE INDEX feedback_pending_device ON feedback_pending (device_id);
      -- Feedback messages: one batch of records each, with their own lock, TTL and delivery count.
      CREATE TABLE feedback_batches (
        id INTEGER PRIMARY KEY,
        created_at INTEGER NOT NULL,
        expiry INTEGER NOT NULL,
        records TEXT NOT NULL,
        delivery_count INTEGER NOT NULL DEFAULT 0,
        lock_token TEXT,
        locked_until INTEGER
      );
      CREATE INDEX feedback_batches_expiry ON feedback_batches (expiry);
      CREATE INDEX feedback_batches_locked_until ON feedback_batches (locked_until) WHERE lock_token IS NOT NULL;
      CREATE UNIQUE INDEX feedback_batches_lock_token ON feedback_batches (lock_token) WHERE lock_token IS NOT NULL;
      CREATE INDEX feedback_batches_available ON feedback_batches (id) WHERE lock_token IS NULL;
      -- Hub-wide counters (last feedback batch time).
      CREATE TABLE hub_state (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'c2d_messages: three indexes, lock tokens carry the row id, lease count',
    // Every index is one more b-tree page written per state change. What is left:
    //   device_seq          per device: next Enqueued (lock_token filtered in the scan, at most
    //                       maxQueueDepth rows), depth, purge, what is due for one device
    //   expiry, locked_until the scheduler's scans and MIN() for the next deadline
    // A lock token ends with the row id in 12 hex digits, so settle finds its row by primary key
    // (no lock_token index). Locks taken before this migration are released: their holders were
    // connections of the previous process, and their tokens cannot be found any more.
    // leased_before (0/1) becomes lease_count, so one UPDATE ... RETURNING tells a redelivery.
    sql: `
      ALTER TABLE c2d_messages RENAME COLUMN leased_before TO lease_count;
      DROP INDEX c2d_messages_lock_token;
      DROP INDEX c2d_messages_enqueued;
      DROP INDEX c2d_messages_device_expiry;
      DROP INDEX c2d_messages_device_locked;
      UPDATE c2d_messages SET lock_token = NULL, locked_until = NULL WHERE lock_token IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'c2d_messages: whether the expiry is the hub default',
    // Issue 13: an expiry the sender did not set is written on no wire. (An unset ack is stored
    // as '' in the NOT NULL ack column.) Messages stored before this had their expiry shown.
    sql: 'ALTER TABLE c2d_messages ADD COLUMN default_expiry INTEGER NOT NULL DEFAULT 0;',
  },
  {
    version: 4,
    name: 'hub CA certificates',
    sql: `
      CREATE TABLE ca_certificates (
        name TEXT PRIMARY KEY,
        etag TEXT NOT NULL,
        certificate TEXT NOT NULL,
        is_verified INTEGER NOT NULL,
        verification_code TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'device twins',
    // A row once something was written to the twin (a device without one has the default twin).
    // JSON as text, read with JSON1 by queries; deleted with its device (registry-tables.ts).
    sql: `
      CREATE TABLE twins (
        device_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        tags TEXT NOT NULL,
        desired TEXT NOT NULL,
        desired_meta TEXT NOT NULL,
        desired_version INTEGER NOT NULL,
        reported TEXT NOT NULL,
        reported_meta TEXT NOT NULL,
        reported_version INTEGER NOT NULL,
        last_desired_patch TEXT
      );
    `,
  },
  {
    version: 6,
    name: 'telemetry event log, consumer groups',
    sql: `
      CREATE TABLE event_partitions (
        partition INTEGER PRIMARY KEY,
        next_seq INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        last_offset INTEGER NOT NULL,
        last_time INTEGER NOT NULL
      );
      CREATE TABLE events (
        partition INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        size INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL,
        device_id TEXT NOT NULL,
        meta TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (partition, seq)
      ) WITHOUT ROWID;
      CREATE INDEX events_time ON events (partition, enqueued_at);
      CREATE TABLE consumer_groups (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 7,
    name: 'mqtt_sessions: twin subscriptions',
    // A bit mask (store/rows.ts twinSubsBits): 1 = $iothub/twin/res/#, 2 = desired notifications.
    sql: 'ALTER TABLE mqtt_sessions ADD COLUMN twin_subs INTEGER NOT NULL DEFAULT 0;',
  },
  {
    version: 8,
    name: 'kept dead letters',
    // docs/dead-letters.md: a dead-lettered C2D message is copied here (seq as it had) when
    // c2d.deadLetterRetentionMs > 0; deleted with its device, after the retention, or past the cap.
    sql: `
      CREATE TABLE c2d_dead_letters (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        message_id TEXT,
        correlation_id TEXT,
        user_id TEXT,
        content_type TEXT,
        content_encoding TEXT,
        ack TEXT NOT NULL,
        expiry INTEGER NOT NULL,
        default_expiry INTEGER NOT NULL,
        enqueued_at INTEGER NOT NULL,
        properties TEXT NOT NULL,
        body BLOB NOT NULL,
        delivery_count INTEGER NOT NULL,
        reason TEXT NOT NULL,
        dead_lettered_at INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX c2d_dead_letters_device_seq ON c2d_dead_letters (device_id, seq);
      CREATE INDEX c2d_dead_letters_time ON c2d_dead_letters (dead_lettered_at);
    `,
  },
  // jobs/types.ts: jobs and their per-device ledger (docs/jobs.md)
  { version: 9, name: 'jobs and their device ledger', sql: JOB_TABLES_SQL },
  {
    version: 10,
    name: 'message history',
    // docs/message-history.md: one row per step of a C2D message that has a message id, written in
    // the step's transaction; a copy's rows go once its first final step is past the retention.
    sql: `
      CREATE TABLE c2d_history (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at INTEGER NOT NULL,
        delivery_count INTEGER NOT NULL,
        final INTEGER NOT NULL,
        lock_token TEXT,
        via TEXT,
        detail TEXT
      );
      CREATE INDEX c2d_history_message ON c2d_history (device_id, message_id, seq);
      CREATE INDEX c2d_history_ended ON c2d_history (at) WHERE final = 1;
    `,
  },
  // Hub-wide node heartbeats and device presence (store/cluster-sql.ts, issue 28).
  { version: 11, name: 'node heartbeats, device presence', sql: clusterTablesSql('INTEGER') },
  { version: 12, name: 'message history: a row per copy', sql: HISTORY_PER_COPY_SQL },
  { version: 13, name: 'device presence: the node a connected device moved from', sql: movedColumnsSql('INTEGER') },
  { version: 14, name: 'node heartbeats carry traffic counters', sql: nodeCountersSql() },
  { version: 15, name: 'message history: recent copies, moved in batches', sql: HISTORY_RECENT_SQL },
];

/** Applies the migrations newer than the database; refuses a database from a newer Ferry. */
export function migrate(db: Database.Database, now: number): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  const current = row.v ?? 0;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this Ferry supports (${latest}); upgrade Ferry`);
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, now);
    })();
  }
}
