/**
 * Migration 22 (issue 28): a lease locks its rows (`FOR UPDATE SKIP LOCKED`) only when another
 * node may lease the same queue at the same moment, and runs only when one of its devices has
 * something Enqueued.
 *
 * Why: the row lock is one more WAL record (and a tuple write) per message leased, on top of the
 * lease's UPDATE of the same row (wal-probe.ts 200, history on: 761 -> 707 bytes and 6.5 -> 5.5
 * records per lease without it). It only keeps two nodes (a device's connection on one, an HTTP
 * receive through another) from picking the same rows: one node's engine commits one group at a
 * time, so a lone node never races itself. The store passes `p_shared` from its heartbeats
 * (cluster-queries.ts: another node's row in hub_nodes); true when it does not know, and by
 * default, so a node not yet upgraded (27 arguments) keeps the locking form.
 *
 * Safety never rests on `p_shared` being fresh (a node may start between two heartbeats): the
 * UPDATE re-checks `m.lock_token IS NULL` itself. Under READ COMMITTED, an UPDATE that meets a row
 * another transaction updated waits for it and, once it commits, re-evaluates its WHERE on the new
 * row version (EvalPlanQual): a row leased meanwhile fails the check and is left out. So a message
 * is never leased twice. Rather than answer fewer messages (SKIP LOCKED would have taken the next
 * ones), the lease that lost raises a serialization failure when it left a row out, and the store
 * runs its group again op by op (ferry_commit, whose leases lock and skip), as it does when
 * PostgreSQL aborts one of two lone-form groups waiting on each other's rows (a deadlock). The
 * locking form's lock is a row lock as an UPDATE's is, so the two forms see each other the same way.
 *
 * The lease statement first asks the Enqueued index (migration 20) whether any of its devices has
 * anything Enqueued, and is skipped when none has: a receiver that is woken with nothing to take
 * (another node took it) or polls an empty queue costs one index probe (auto_explain, three leases
 * of queues with nothing Enqueued: 4 buffers instead of the lease statement's 9; no WAL either way).
 *
 * The function is migration 20's (lease-index-sql.ts) with edits (sql-edit.ts): it takes one more
 * argument, so the old one is dropped and the new one made, with migration 21's setting
 * (generic-plans-sql.ts) restated, as a new function does not inherit it.
 */
import { LEASE_INDEX_SQL } from './lease-index-sql.js';
import { editSql } from './sql-edit.js';

const LEAN = LEASE_INDEX_SQL.slice(LEASE_INDEX_SQL.indexOf('CREATE OR REPLACE FUNCTION ferry_commit_lean('));

const LEASE_START = '    RETURN QUERY\n    WITH lr AS (';
const LEASE_END = 'FROM locked l ORDER BY l.o, l.seq;\n';
/** Migration 20's lease statement, as it reads there. */
const LEASE = LEAN.slice(LEAN.indexOf(LEASE_START), LEAN.indexOf(LEASE_END) + LEASE_END.length);

/** The lease statement whose UPDATE re-checks that its row is still Enqueued. */
const RECHECKED = editSql(LEASE, [
  ['      FROM pick WHERE m.id = pick.id\n', '      FROM pick WHERE m.id = pick.id AND m.lock_token IS NULL\n'],
]);

/**
 * The lone node's form: no row lock, and when the check left a row out (another transaction leased
 * or removed it after this one read it), the group fails with a serialization failure instead of
 * answering fewer messages: the store runs it again op by op, where the lease skips to the next ones.
 */
const LONE = editSql(RECHECKED, [
  [' FOR UPDATE SKIP LOCKED', ''],
  [
    '    FROM locked l ORDER BY l.o, l.seq;\n',
    `    FROM locked l
    -- every row picked was leased, or another transaction took one first: the group goes op by op
    WHERE ferry_leased_all((SELECT count(*) FROM locked), (SELECT count(*) FROM pick))
    ORDER BY l.o, l.seq;
`,
  ],
]);

/** Indents every line by n spaces (the SQL reads as nested as it runs). */
const indent = (sql: string, n: number) => sql.replace(/^(?=.)/gm, ' '.repeat(n));

export const LEASE_LOCK_SQL = editSql(LEAN, [
  // migration 21's setting (generic-plans-sql.ts): a new function starts without it
  ['LANGUAGE plpgsql AS $$', 'LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$'],
  [
    'CREATE OR REPLACE FUNCTION ferry_commit_lean(',
    `-- True when a lone-form lease leased every row it picked; raises otherwise. STABLE, with the counts
-- as arguments: the condition has no column and nothing volatile, so it is checked once, before the
-- first row (a gating filter), even when no row was leased.
CREATE FUNCTION ferry_leased_all(p_leased bigint, p_picked bigint) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_leased < p_picked THEN
    RAISE EXCEPTION 'a message this lease read was leased or removed by another transaction first'
      USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN true;
END $$;

DROP FUNCTION ferry_commit_lean(integer[], text[], text[], text[], text[], text[], text[], text[], bigint[],
  boolean[], text[], bytea[], text[], integer[], text[], integer[], text[], integer[], text[], integer[], text[],
  text[], bigint, text, jsonb, text, text);
CREATE FUNCTION ferry_commit_lean(`,
  ],
  ['p_channel text, p_node text)', 'p_channel text, p_node text, p_shared boolean DEFAULT true)'],
  [
    "    -- device's connection): SKIP LOCKED passes over the rows it holds to the next ones.\n",
    `    -- device's connection): SKIP LOCKED passes over the rows it holds to the next ones. A lone node
    -- (p_shared false) takes no row lock: its UPDATE's own check of lock_token is what keeps a node
    -- that started meanwhile from leasing a row twice (lease-lock-sql.ts). Nothing Enqueued for any
    -- of the devices (one probe of the Enqueued index): no lease statement at all.
`,
  ],
  [
    `${LEASE}    GET DIAGNOSTICS n = ROW_COUNT;\n    IF n > 0 THEN v_earliest := least(v_earliest, p_now + lock_ms); END IF;\n`,
    `    IF EXISTS (SELECT 1 FROM c2d_messages m WHERE m.device_id = ANY(l_dev) AND m.lock_token IS NULL) THEN
      IF p_shared THEN
${indent(RECHECKED, 4)}        GET DIAGNOSTICS n = ROW_COUNT;
      ELSE
${indent(LONE, 4)}        GET DIAGNOSTICS n = ROW_COUNT;
      END IF;
      IF n > 0 THEN v_earliest := least(v_earliest, p_now + lock_ms); END IF;
    END IF;
`,
  ],
]);
