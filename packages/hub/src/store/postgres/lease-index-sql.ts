/**
 * Migration 20 (issue 28): a lease reads a device's next Enqueued messages from an index of the
 * Enqueued messages only, and a send asks "anything Enqueued?" and "how deep?" without counting
 * the device's queue, so neither costs more as the queue gets deeper.
 *
 * Why: without an index on Enqueued messages, a lease's `device_id = d AND lock_token IS NULL
 * ORDER BY seq LIMIT n` read every message of the device (a bitmap scan of c2d_messages_device_seq,
 * a heap page per message, as a device's messages share pages with its neighbours' sends) and
 * sorted them: EXPLAIN (ANALYZE, BUFFERS) of a group of 200 leases of one message, 200 devices
 * with 50 locked and 50 Enqueued each (bench/postgres/lease-probe.ts), read 25,168 buffers for
 * the scan (126 per lease); with this index, 836 (4 per lease). A send counted the device's
 * messages (depth, and how many Enqueued) the same way. The index is partial, so a lease moves the
 * row out of it without an entry (a lease was not a HOT update before either:
 * c2d_messages_locked_until covers what it changes); a send adds one entry.
 *
 * The send's depth: every message of a device holds a distinct sequence number in
 * [min(seq), next_seq), so next_seq - min(seq) bounds its depth from above; when that bound plus
 * the group's sends to the device stays within maxQueueDepth, every send is accepted whatever the
 * exact depth is, and the count is skipped (a CASE evaluates only the branch it takes). Each send
 * looks its device up (LATERAL) instead of joining a per-device set: with the generic plan's
 * estimate of 10 rows a side, that join compared every send with every device (40,000 pairs for
 * 200 sends).
 *
 * The due probe of migration 19 becomes a CASE: as `(probe) AND EXISTS (...)` PostgreSQL ran the
 * EXISTS (a sequential scan of c2d_messages in the cached plan) even when the probe was false.
 *
 * The function is migration 19's (hot-path-due-sql.ts) with three edits (sql-edit.ts); the lease
 * statement is unchanged: the planner takes the new index for it (`lock_token IS NULL` implies the
 * index's predicate, and its order is the ORDER BY).
 */
import { HOT_PATH_DUE_SQL } from './hot-path-due-sql.js';
import { editSql } from './sql-edit.js';

export const LEASE_INDEX_SQL =
  'CREATE INDEX c2d_messages_enqueued ON c2d_messages (device_id, seq) WHERE lock_token IS NULL;\n' +
  editSql(HOT_PATH_DUE_SQL, [
    // the due probe: a CASE (in parentheses, or PL/pgSQL ends the IF at its THEN), so the per-device question runs only when an index probe says something is due
    [
      `  IF ((SELECT min(m.expiry) FROM c2d_messages m) <= p_now
      OR (SELECT min(m.locked_until) FROM c2d_messages m WHERE m.lock_token IS NOT NULL) <= p_now)
    AND EXISTS (SELECT 1 FROM c2d_messages m WHERE m.device_id = ANY(e_dev || l_dev || c_dev)
      AND (m.expiry <= p_now OR m.locked_until <= p_now)) THEN`,
      `  IF (CASE WHEN (SELECT min(m.expiry) FROM c2d_messages m) <= p_now
      OR (SELECT min(m.locked_until) FROM c2d_messages m WHERE m.lock_token IS NOT NULL) <= p_now
    THEN EXISTS (SELECT 1 FROM c2d_messages m WHERE m.device_id = ANY(e_dev || l_dev || c_dev)
      AND (m.expiry <= p_now OR m.locked_until <= p_now)) ELSE false END) THEN`,
    ],
    // the send: each device's row and queue looked up per send, with its sends in the group counted
    [
      `      SELECT x.j::integer AS j, x.d, row_number() OVER (PARTITION BY x.d ORDER BY x.j) AS r
      FROM unnest(e_dev) WITH ORDINALITY x(d, j)
    ), dv AS (
      SELECT d.device_id AS d, d.next_seq, d.status = 'enabled' AS enabled, c.depth, c.waiting
      FROM devices d CROSS JOIN LATERAL (
        SELECT count(*) AS depth, count(*) FILTER (WHERE m.lock_token IS NULL) AS waiting
        FROM c2d_messages m WHERE m.device_id = d.device_id) c
      WHERE d.device_id = ANY(e_dev)
    ), t AS MATERIALIZED (`,
      `      SELECT x.j::integer AS j, x.d, row_number() OVER (PARTITION BY x.d ORDER BY x.j) AS r,
        count(*) OVER (PARTITION BY x.d) AS n
      FROM unnest(e_dev) WITH ORDINALITY x(d, j)
    ), t AS MATERIALIZED (`,
    ],
    [
      `      FROM e LEFT JOIN dv ON dv.d = e.d
    ), tk AS MATERIALIZED (`,
      `      FROM e LEFT JOIN LATERAL (
        SELECT d.next_seq, d.status = 'enabled' AS enabled,
          -- the exact depth only where the span of sequence numbers held could reach the limit
          CASE WHEN d.next_seq - coalesce((SELECT min(m.seq) FROM c2d_messages m WHERE m.device_id = d.device_id),
              d.next_seq) + e.n <= depth_max THEN 0
            ELSE (SELECT count(*) FROM c2d_messages m WHERE m.device_id = d.device_id) END AS depth,
          CASE WHEN EXISTS (SELECT 1 FROM c2d_messages m WHERE m.device_id = d.device_id AND m.lock_token IS NULL)
            THEN 1 ELSE 0 END AS waiting
        FROM devices d WHERE d.device_id = e.d) dv ON true
    ), tk AS MATERIALIZED (`,
    ],
  ]);
