/** Device twins on PostgreSQL: json columns (the text as written, keys in order), queried with json operators (twins/query/sql.ts). */
import type pg from 'pg';
import { c2dCountSql, compileWhere } from '../../twins/query/sql.js';
import type { StoredTwin, TwinEntry, TwinPageQuery, TwinWriteResult } from '../../twins/types.js';
import { ENTRY_COLUMNS, ENTRY_FROM, type EntryRow, entryOf, twinValues } from '../twin-rows.js';

export class TwinQueries {
  constructor(private readonly pool: pg.Pool) {}

  async getTwin(deviceId: string): Promise<TwinEntry | undefined> {
    const r = await this.pool.query<EntryRow>(`SELECT ${ENTRY_COLUMNS} ${ENTRY_FROM} WHERE d.device_id = $1`, [
      deviceId,
    ]);
    return r.rows[0] && entryOf(r.rows[0]);
  }

  async writeTwin(twin: StoredTwin, expectedVersion: number | null): Promise<TwinWriteResult> {
    const values = [twin.deviceId, ...twinValues(twin)];
    const r =
      expectedVersion === null
        ? await this.pool.query(
            `INSERT INTO twins (device_id, version, tags, desired, desired_meta, desired_version, reported,
               reported_meta, reported_version, last_desired_patch)
             SELECT $1, $2, $3::json, $4::json, $5::json, $6, $7::json, $8::json, $9, $10::json
             WHERE EXISTS (SELECT 1 FROM devices WHERE device_id = $1)
             ON CONFLICT (device_id) DO NOTHING`,
            values,
          )
        : await this.pool.query(
            `UPDATE twins SET version = $2, tags = $3::json, desired = $4::json, desired_meta = $5::json,
               desired_version = $6, reported = $7::json, reported_meta = $8::json, reported_version = $9,
               last_desired_patch = $10::json
             WHERE device_id = $1 AND version = $11`,
            [...values, expectedVersion],
          );
    if (r.rowCount === 1) return 'written';
    const exists = await this.pool.query('SELECT 1 FROM devices WHERE device_id = $1', [twin.deviceId]);
    return exists.rowCount === 1 ? 'conflict' : 'deviceNotFound';
  }

  async queryTwins(q: TwinPageQuery): Promise<TwinEntry[]> {
    // The condition's parameters are $1..$n; the page's come after them.
    const where = q.where ? compileWhere(q.where, 'postgres', q.now) : { sql: 'true', params: [] };
    const n = where.params.length;
    const c2d = q.withC2dCount ? `, ${c2dCountSql(`$${n + 3}::bigint`)} AS c2d_count` : '';
    const r = await this.pool.query<EntryRow>(
      // COLLATE "C": byte order, as SQLite's, whatever the database's collation.
      `SELECT ${ENTRY_COLUMNS}${c2d} ${ENTRY_FROM}
       WHERE (${where.sql}) AND d.device_id COLLATE "C" > $${n + 1}::text
       ORDER BY d.device_id COLLATE "C" LIMIT $${n + 2}`,
      [...where.params, q.afterDeviceId ?? '', Math.max(0, Math.floor(q.limit)), ...(q.withC2dCount ? [q.now] : [])],
    );
    return r.rows.map(entryOf);
  }
}
