/**
 * What each SQL statement cost over a bench row, from pg_stat_statements (PostgreSQL 13+ has
 * wal_bytes there): calls, execution time, rows and WAL, per call and per message. With
 * pg_stat_statements.track = 'all' the statements inside ferry_commit_hot and the other
 * functions show too (marked nested), which is where a group commit spends its time.
 *
 * The counters are server-wide (reset before each row): other work on the same PostgreSQL shows
 * up among them, so run it on a quiet server. When the extension is not loaded, one line says how
 * to enable it and the bench runs without it.
 */
import type pg from 'pg';

export const ENABLE_HINT =
  'per-statement costs: enable pg_stat_statements (ALTER SYSTEM SET shared_preload_libraries = ' +
  "'pg_stat_statements', restart PostgreSQL, CREATE EXTENSION pg_stat_statements in this database; " +
  "ALTER SYSTEM SET pg_stat_statements.track = 'all' to see the statements inside Ferry's functions)";

interface StatementRow {
  toplevel: boolean;
  calls: string;
  total_ms: number;
  rows: string;
  wal_bytes: string;
  query: string;
}

export interface StatementStats {
  /** Forgets what was counted so far (before a row). */
  reset(): Promise<void>;
  /** The `limit` costliest statements since reset(), as table rows; `messages` divides the totals. */
  top(messages: number, limit: number): Promise<Array<Record<string, string | number>>>;
}

/** The statistics when pg_stat_statements is usable on this connection's database, else undefined. */
export async function statementStats(admin: pg.Client): Promise<StatementStats | undefined> {
  try {
    // Only loadable when preloaded; CREATE EXTENSION alone would not fail, its views would.
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await admin.query('SELECT pg_stat_statements_reset()');
  } catch {
    return undefined;
  }
  return {
    async reset() {
      await admin.query('SELECT pg_stat_statements_reset()');
    },
    async top(messages, limit) {
      const r = await admin.query<StatementRow>(
        `SELECT toplevel, calls, total_exec_time AS total_ms, rows, wal_bytes,
           left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query
         FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND query NOT LIKE '%pg_stat_statements%'
         ORDER BY total_exec_time DESC LIMIT $1`,
        [limit],
      );
      return r.rows.map((s) => {
        const calls = Number(s.calls);
        return {
          statement: `${s.toplevel ? '' : '(nested) '}${s.query}`,
          calls,
          'ms total': Math.round(s.total_ms),
          'µs/call': Math.round((s.total_ms * 1000) / Math.max(1, calls)),
          'µs/msg': Math.round(((s.total_ms * 1000) / messages) * 10) / 10,
          'rows/call': Math.round((Number(s.rows) / Math.max(1, calls)) * 10) / 10,
          'WAL B/call': Math.round(Number(s.wal_bytes) / Math.max(1, calls)),
          'WAL B/msg': Math.round(Number(s.wal_bytes) / messages),
        };
      });
    },
  };
}
