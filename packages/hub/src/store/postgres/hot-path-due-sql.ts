/**
 * Migration 19 (issue 28): ferry_commit_lean's first question, "is anything of these devices due
 * (a TTL or a lock past now)?", asks two index probes first: the earliest expiry and the earliest
 * lock deadline of the whole queue (c2d_messages_expiry, c2d_messages_locked_until: the first
 * entry of each). Only when one of them is past does it look at the group's devices' rows.
 *
 * Why: the cached (generic) plan of the per-device question was a sequential scan of c2d_messages
 * on every call: pg_stat_statements on the engine bench smoke (200 devices x 20) counted 1.8 ms per
 * call, 26 µs per message, growing with the queue. Something due anywhere is rare (the scheduler
 * handles it at its deadline), and then the answer is the same as before.
 *
 * The function is migration 18's (quiet-wakes-sql.ts) with one edit (sql-edit.ts).
 */
import { QUIET_WAKES_SQL } from './quiet-wakes-sql.js';
import { editSql } from './sql-edit.js';

export const HOT_PATH_DUE_SQL = editSql(QUIET_WAKES_SQL, [
  [
    `  IF EXISTS (SELECT 1 FROM c2d_messages m WHERE m.device_id = ANY(e_dev || l_dev || c_dev)
      AND (m.expiry <= p_now OR m.locked_until <= p_now)) THEN`,
    `  IF ((SELECT min(m.expiry) FROM c2d_messages m) <= p_now
      OR (SELECT min(m.locked_until) FROM c2d_messages m WHERE m.lock_token IS NOT NULL) <= p_now)
    AND EXISTS (SELECT 1 FROM c2d_messages m WHERE m.device_id = ANY(e_dev || l_dev || c_dev)
      AND (m.expiry <= p_now OR m.locked_until <= p_now)) THEN`,
  ],
]);
