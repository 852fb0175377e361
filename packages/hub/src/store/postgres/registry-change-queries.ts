/**
 * The registry's change sequence on PostgreSQL (migration 6): a trigger on devices writes a row
 * for every registry update (its etag changes) and deletion, in the same transaction as the
 * change, so a committed change always has its row. A node whose LISTEN connection was down reads
 * what changed meanwhile here (cluster/registry-replay.ts). C2D sends touch devices.next_seq only,
 * which the trigger ignores.
 *
 * The cursor is the xmin of a snapshot: every transaction with an older id had ended when it was
 * taken, so a change committed after it has an id at or above it, whatever order ids were handed
 * out in (a bigserial id alone could commit out of order and be skipped).
 */
import type pg from 'pg';

export const REGISTRY_CHANGES_SQL = `
CREATE TABLE registry_changes (
  id bigserial PRIMARY KEY,
  device_id text NOT NULL,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registry_changes_at ON registry_changes (at);
CREATE FUNCTION ferry_registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO registry_changes (device_id) VALUES (OLD.device_id);
  RETURN NULL;
END $$;
CREATE TRIGGER registry_changed AFTER UPDATE OF etag OR DELETE ON devices
  FOR EACH ROW EXECUTE FUNCTION ferry_registry_changed();
`;

/** Where a reader of the change sequence stands: changes committed after it are returned by changesSince. */
export type ChangeCursor = string;

export interface RegistryChangeLog {
  cursor(): Promise<ChangeCursor>;
  /** The devices written or deleted by the transactions that committed after `cursor` was taken (and perhaps a few before). */
  changesSince(cursor: ChangeCursor): Promise<string[]>;
  /** Deletes the rows older than `olderThanMs`; returns how many. */
  prune(olderThanMs: number): Promise<number>;
}

export class RegistryChangeQueries implements RegistryChangeLog {
  /** The pool of the hub's schema (its search_path). */
  constructor(private readonly pool: pg.Pool) {}

  async cursor(): Promise<ChangeCursor> {
    const r = await this.pool.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
    return r.rows[0]!.xmin;
  }

  async changesSince(cursor: ChangeCursor): Promise<string[]> {
    const r = await this.pool.query<{ device_id: string }>(
      'SELECT DISTINCT device_id FROM registry_changes WHERE xid >= $1::xid8',
      [cursor],
    );
    return r.rows.map((row) => row.device_id);
  }

  async prune(olderThanMs: number): Promise<number> {
    const r = await this.pool.query(
      "DELETE FROM registry_changes WHERE at < now() - $1::double precision * interval '1 millisecond'",
      [olderThanMs],
    );
    return r.rowCount ?? 0;
  }
}
