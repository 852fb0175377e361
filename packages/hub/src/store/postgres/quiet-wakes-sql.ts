/**
 * Migration 18 (issue 28): ferry_commit_lean wakes other nodes only for devices that have
 * something Enqueued after the group. A send taken by a receiver waiting on this node (a direct
 * lease: the message is inserted locked for it) leaves nothing another node could lease, so
 * NOTIFYing them for it only cost their LISTEN backend and their hub a message each to read and
 * ignore, per message of the fan-out. The function answers the same woken devices to its own
 * engine as before (the engine's bookkeeping of waiting receivers reads them).
 *
 * The function is migration 16's (history-lean-sql.ts) with three edits (sql-edit.ts).
 */
import { HISTORY_LEAN_SQL } from './history-lean-sql.js';
import { editSql } from './sql-edit.js';

const LEAN = HISTORY_LEAN_SQL.slice(HISTORY_LEAN_SQL.indexOf('CREATE OR REPLACE FUNCTION ferry_commit_lean('));

export const QUIET_WAKES_SQL = editSql(LEAN, [
  // the devices other nodes are told about
  ['  v_records text[];\n', "  v_records text[];\n  v_notify text[] := '{}';\n"],
  // a device is left out when every send of it accepted here went to a receiver waiting here
  [
    "      coalesce(array_agg(DISTINCT t.d) FILTER (WHERE t.tok IS NOT NULL), '{}')\n    INTO r_op, r_code, r_seq, r_lease, r_tok, v_woken, v_earliest, direct_devs",
    "      coalesce(array_agg(DISTINCT t.d) FILTER (WHERE t.tok IS NOT NULL), '{}'),\n      coalesce(array_agg(DISTINCT t.d) FILTER (WHERE t.id IS NOT NULL AND t.tok IS NULL), '{}')\n    INTO r_op, r_code, r_seq, r_lease, r_tok, v_woken, v_earliest, direct_devs, v_notify",
  ],
  ['FROM unnest(v_woken) w;', 'FROM unnest(v_notify) w;'],
]);
