/**
 * Versioned schema for PostgreSQL. All migrations run in one transaction under a transaction-scoped
 * advisory lock keyed by the schema name, so two nodes starting at once never both apply one: the
 * second waits, then finds the schema current. Never edit a released migration: append a new one.
 */
import type pg from 'pg';
import { clusterTablesSql, movedColumnsSql, nodeCountersSql } from '../cluster-sql.js';
import { DEAD_LETTERS_SQL } from './dead-letters-sql.js';
import { EVENT_LOG_SQL } from './event-log-queries.js';
import { FEEDBACK_SQL } from './feedback-sql.js';
import { GENERIC_PLANS_SQL } from './generic-plans-sql.js';
import { HISTORY_LEAN_SQL } from './history-lean-sql.js';
import { HISTORY_SQL } from './history-sql.js';
import { HOT_PATH_DUE_SQL } from './hot-path-due-sql.js';
import { HOT_PATH_LEAN_SQL } from './hot-path-lean-sql.js';
import { HOT_PATH_SQL } from './hot-path-sql.js';
import { JOBS_SQL } from './job-queries.js';
import { LEASE_INDEX_SQL } from './lease-index-sql.js';
import { LEASE_LOCK_SQL } from './lease-lock-sql.js';
import { METHOD_CALLS_SQL } from './method-call-queries.js';
import { QUEUE_SQL } from './queue-sql.js';
import { QUIET_WAKES_SQL } from './quiet-wakes-sql.js';
import { REGISTRY_CHANGES_SQL } from './registry-change-queries.js';
import { TABLES_SQL } from './schema-sql.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'registry, c2d queues, feedback, commit functions', sql: TABLES_SQL + FEEDBACK_SQL + QUEUE_SQL },
  {
    version: 2,
    name: 'hub CA certificates',
    sql: `CREATE TABLE ca_certificates (
      name text PRIMARY KEY,
      etag text NOT NULL,
      certificate text NOT NULL,
      is_verified boolean NOT NULL,
      verification_code text,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL
    );`,
  },
  {
    version: 3,
    name: 'device twins',
    // A row once something was written to the twin; deleted with its device (registry-queries.ts).
    sql: `CREATE TABLE twins (
      device_id text PRIMARY KEY,
      version bigint NOT NULL,
      tags jsonb NOT NULL,
      desired jsonb NOT NULL,
      desired_meta jsonb NOT NULL,
      desired_version bigint NOT NULL,
      reported jsonb NOT NULL,
      reported_meta jsonb NOT NULL,
      reported_version bigint NOT NULL,
      last_desired_patch jsonb
    );`,
  },
  { version: 4, name: 'telemetry event log, consumer groups', sql: EVENT_LOG_SQL },
  {
    version: 5,
    name: 'mqtt_sessions: twin subscriptions',
    // A bit mask (store/rows.ts twinSubsBits): 1 = $iothub/twin/res/#, 2 = desired notifications.
    sql: 'ALTER TABLE mqtt_sessions ADD COLUMN twin_subs integer NOT NULL DEFAULT 0;',
  },
  { version: 6, name: 'registry change sequence', sql: REGISTRY_CHANGES_SQL },
  { version: 7, name: 'kept dead letters', sql: DEAD_LETTERS_SQL },
  { version: 8, name: 'c2d hot path: set-based group commit, lock tokens carry the row id', sql: HOT_PATH_SQL },
  { version: 9, name: 'direct method calls between nodes', sql: METHOD_CALLS_SQL },
  { version: 10, name: 'jobs and their device ledger', sql: JOBS_SQL },
  { version: 11, name: 'message history', sql: HISTORY_SQL },
  { version: 12, name: 'node heartbeats, device presence', sql: clusterTablesSql('bigint') },
  {
    version: 13,
    name: 'twins keep their JSON as written',
    // jsonb sorts an object's keys; IoT Hub (and the SQLite adapter) answer them in the order written.
    sql: ['tags', 'desired', 'desired_meta', 'reported', 'reported_meta', 'last_desired_patch']
      .map((c) => `ALTER TABLE twins ALTER COLUMN ${c} TYPE json USING ${c}::json;`)
      .join('\n'),
  },
  { version: 14, name: 'c2d hot path: per-kind arrays, history in the same statements', sql: HOT_PATH_LEAN_SQL },
  { version: 15, name: 'device presence: the node a connected device moved from', sql: movedColumnsSql('bigint') },
  {
    version: 16,
    name: 'message history: pending steps on the message row, one row per ended copy',
    sql: HISTORY_LEAN_SQL,
  },
  { version: 17, name: 'node heartbeats carry traffic counters', sql: nodeCountersSql() },
  { version: 18, name: 'c2d hot path: no wake to other nodes for a send a local receiver took', sql: QUIET_WAKES_SQL },
  { version: 19, name: 'c2d hot path: what is due, asked of two indexes first', sql: HOT_PATH_DUE_SQL },
  {
    version: 20,
    name: 'c2d hot path: an index of Enqueued messages for leases, no queue count per send',
    sql: LEASE_INDEX_SQL,
  },
  { version: 21, name: 'c2d hot path: generic plans, made once per connection', sql: GENERIC_PLANS_SQL },
  {
    version: 22,
    name: 'c2d hot path: leases lock their rows only when other nodes are live, and only when something is Enqueued',
    sql: LEASE_LOCK_SQL,
  },
];

/** A schema name is quoted into DDL, so only plain identifiers are accepted. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Creates the schema when missing and applies the migrations newer than it; refuses a newer schema. */
export async function migrate(client: pg.ClientBase, schema: string, now: number): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new TypeError(`invalid schema name "${schema}"`);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1), 0)', [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`SET LOCAL search_path TO "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    if (current > latest) {
      throw new Error(
        `database schema "${schema}" is at version ${current}, newer than this Ferry supports (${latest}); upgrade Ferry`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        now,
      ]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
