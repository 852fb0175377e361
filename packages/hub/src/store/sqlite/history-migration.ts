/**
 * SQLite migration 12 (docs/message-history.md, Storage): the history of migration 10 kept a row
 * per step (three indexed inserts for a message sent, leased and completed); now a pending copy's
 * steps are text in its c2d_messages row, and an ended copy is one c2d_history row holding all its
 * steps (history-table.ts, history-steps.ts). The rows already written are carried over: an ended
 * copy's (one with an ending step) into one row, ended when its first ending step was, rows in the
 * order the copies ended (the scheduler's order); a pending copy's into its message's row. Steps of
 * a copy that is neither ended nor in the queue any more (left behind when the retention was
 * turned to 0 while it was pending, never removed) are dropped.
 */

/** A migration-10 row `h` as the text of one step (history-steps.ts stepText; nulls where it leaves fields out). */
const STEP = `',' || json_array(h.kind, h.at, h.delivery_count, h.lock_token, h.via, json(h.detail))`;
/** The old rows of the copy c2d_history `h` belongs to. */
const SAME_COPY = 'o.device_id = h.device_id AND o.message_id = h.message_id AND o.seq = h.seq';

export const HISTORY_PER_COPY_SQL = `
  ALTER TABLE c2d_messages ADD COLUMN steps TEXT;
  CREATE TABLE c2d_copy_history (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    steps TEXT NOT NULL
  );
  INSERT INTO c2d_copy_history (device_id, message_id, seq, ended_at, steps)
    SELECT device_id, message_id, seq, ended_at, steps FROM (
      SELECT h.device_id, h.message_id, h.seq,
        (SELECT o.at FROM c2d_history o WHERE ${SAME_COPY} AND o.final = 1 ORDER BY o.id LIMIT 1) AS ended_at,
        group_concat(${STEP}, '' ORDER BY h.id) AS steps
      FROM c2d_history h GROUP BY h.device_id, h.message_id, h.seq HAVING MAX(h.final) = 1
    ) ORDER BY ended_at;
  UPDATE c2d_messages SET steps = (
    SELECT group_concat(${STEP}, '' ORDER BY h.id) FROM c2d_history h
    WHERE h.device_id = c2d_messages.device_id AND h.message_id = c2d_messages.message_id AND h.seq = c2d_messages.seq
    HAVING MAX(h.final) = 0
  ) WHERE message_id IS NOT NULL;
  DROP TABLE c2d_history;
  ALTER TABLE c2d_copy_history RENAME TO c2d_history;
  -- Reads (device, message id), a requeue's step (the copy), deleting a device. Retention goes
  -- by rowid, which is the order the copies ended in.
  CREATE INDEX c2d_history_copy ON c2d_history (device_id, message_id, seq);
`;

/**
 * SQLite migration 15: ended copies are first appended to c2d_history_recent (no index: the
 * table only grows at its end), and moved to c2d_history, in the order they ended, a few thousand
 * at a time (history-table.ts). One insert into c2d_history's index per ended copy wrote a page at
 * a random place of it to the WAL; a move writes each page of the index at most once.
 */
export const HISTORY_RECENT_SQL = `
  CREATE TABLE c2d_history_recent (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    steps TEXT NOT NULL
  );
`;
