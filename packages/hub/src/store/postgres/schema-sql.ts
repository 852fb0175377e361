/**
 * Version 1 of the PostgreSQL schema: the same tables as SQLite's (times in ms since the epoch as
 * bigint), created in the store's own schema (search_path is set per connection). The C2D and
 * feedback rules are server-side functions (queue-sql.ts, feedback-sql.ts) so one group commit is
 * one round trip.
 */
export const TABLES_SQL = `
CREATE TABLE devices (
  device_id text PRIMARY KEY,
  generation_id text NOT NULL,
  etag text NOT NULL,
  status text NOT NULL,
  status_reason text,
  status_updated_time text NOT NULL,
  auth_type text NOT NULL,
  primary_key text,
  secondary_key text,
  primary_thumbprint text,
  secondary_thumbprint text,
  iot_edge boolean NOT NULL,
  -- per-device sequence numbers; the row is locked by every enqueue, so two nodes never share one
  next_seq bigint NOT NULL DEFAULT 1
);
CREATE TABLE policies (
  key_name text PRIMARY KEY,
  primary_key text NOT NULL,
  secondary_key text NOT NULL,
  rights text NOT NULL
);
CREATE TABLE mqtt_sessions (
  device_id text PRIMARY KEY,
  c2d_qos smallint
);
-- Pending C2D messages. lock_token NULL = Enqueued, else Invisible (locked_until set). Gone messages are deleted.
CREATE TABLE c2d_messages (
  id bigserial PRIMARY KEY,
  device_id text NOT NULL,
  seq bigint NOT NULL,
  message_id text,
  correlation_id text,
  user_id text,
  content_type text,
  content_encoding text,
  -- NULL when the sender set none (issue 13: it then appears on no wire, and means none)
  ack text,
  expiry bigint NOT NULL,
  -- the expiry is the hub's default (the sender set none): it appears on no wire
  default_expiry boolean NOT NULL DEFAULT false,
  enqueued_at bigint NOT NULL,
  -- JSON text, not jsonb: the sender's property order is kept
  properties text NOT NULL,
  body bytea NOT NULL,
  delivery_count integer NOT NULL DEFAULT 0,
  leased_before boolean NOT NULL DEFAULT false,
  lock_token text,
  locked_until bigint
);
CREATE UNIQUE INDEX c2d_messages_device_seq ON c2d_messages (device_id, seq);
CREATE INDEX c2d_messages_expiry ON c2d_messages (expiry);
CREATE INDEX c2d_messages_locked_until ON c2d_messages (locked_until) WHERE lock_token IS NOT NULL;
CREATE UNIQUE INDEX c2d_messages_lock_token ON c2d_messages (lock_token) WHERE lock_token IS NOT NULL;
CREATE INDEX c2d_messages_enqueued ON c2d_messages (device_id, seq) WHERE lock_token IS NULL;
CREATE INDEX c2d_messages_device_expiry ON c2d_messages (device_id, expiry);
CREATE INDEX c2d_messages_device_locked ON c2d_messages (device_id, locked_until) WHERE lock_token IS NOT NULL;
CREATE TABLE feedback_pending (
  id bigserial PRIMARY KEY,
  device_id text NOT NULL,
  record text NOT NULL
);
CREATE INDEX feedback_pending_device ON feedback_pending (device_id);
CREATE TABLE feedback_batches (
  id bigserial PRIMARY KEY,
  created_at bigint NOT NULL,
  expiry bigint NOT NULL,
  records text NOT NULL,
  delivery_count integer NOT NULL DEFAULT 0,
  lock_token text,
  locked_until bigint
);
CREATE INDEX feedback_batches_expiry ON feedback_batches (expiry);
CREATE INDEX feedback_batches_locked_until ON feedback_batches (locked_until) WHERE lock_token IS NOT NULL;
CREATE UNIQUE INDEX feedback_batches_lock_token ON feedback_batches (lock_token) WHERE lock_token IS NOT NULL;
CREATE INDEX feedback_batches_available ON feedback_batches (id) WHERE lock_token IS NULL;
CREATE TABLE hub_state (
  key text PRIMARY KEY,
  value bigint NOT NULL
);
`;
