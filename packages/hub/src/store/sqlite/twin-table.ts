/** Device twins on SQLite: one row per twin written, JSON as text, queried with JSON1 (twins/query/sql.ts). */
import type Database from 'better-sqlite3';
import { c2dCountSql, compileWhere } from '../../twins/query/sql.js';
import type { StoredTwin, TwinEntry, TwinPageQuery, TwinWriteResult } from '../../twins/types.js';
import { ENTRY_COLUMNS, ENTRY_FROM, type EntryRow, entryOf, twinValues } from '../twin-rows.js';

export class TwinTable {
  private readonly get: Database.Statement<[string], EntryRow>;
  private readonly insert: Database.Statement<unknown[]>;
  private readonly update: Database.Statement<unknown[]>;
  private readonly deviceExists: Database.Statement<[string], { n: number }>;

  constructor(private readonly db: Database.Database) {
    this.get = db.prepare(`SELECT ${ENTRY_COLUMNS} ${ENTRY_FROM} WHERE d.device_id = ?`);
    this.insert = db.prepare(
      `INSERT INTO twins (device_id, version, tags, desired, desired_meta, desired_version, reported, reported_meta,
         reported_version, last_desired_patch)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM devices WHERE device_id = ?)
       ON CONFLICT (device_id) DO NOTHING`,
    );
    this.update = db.prepare(
      `UPDATE twins SET version = ?, tags = ?, desired = ?, desired_meta = ?, desired_version = ?, reported = ?,
         reported_meta = ?, reported_version = ?, last_desired_patch = ?
       WHERE device_id = ? AND version = ?`,
    );
    this.deviceExists = db.prepare('SELECT count(*) AS n FROM devices WHERE device_id = ?');
  }

  getTwin(deviceId: string): TwinEntry | undefined {
    const row = this.get.get(deviceId);
    return row && entryOf(row);
  }

  writeTwin(twin: StoredTwin, expectedVersion: number | null): TwinWriteResult {
    const changes =
      expectedVersion === null
        ? this.insert.run(twin.deviceId, ...twinValues(twin), twin.deviceId).changes
        : this.update.run(...twinValues(twin), twin.deviceId, expectedVersion).changes;
    if (changes === 1) return 'written';
    return this.deviceExists.get(twin.deviceId)!.n === 1 ? 'conflict' : 'deviceNotFound';
  }

  queryTwins(q: TwinPageQuery): TwinEntry[] {
    const where = q.where ? compileWhere(q.where, 'sqlite', q.now) : { sql: '1', params: [] };
    const after = q.afterDeviceId ?? '';
    const c2d = q.withC2dCount ? `, ${c2dCountSql('?')} AS c2d_count` : '';
    // Prepared per query: its text depends on the condition (values are bound, never in the text).
    const rows = this.db
      .prepare<unknown[], EntryRow>(
        `SELECT ${ENTRY_COLUMNS}${c2d} ${ENTRY_FROM}
         WHERE d.device_id > ? AND (${where.sql}) ORDER BY d.device_id LIMIT ?`,
      )
      .all(...(q.withC2dCount ? [q.now] : []), after, ...where.params, Math.max(0, Math.floor(q.limit)));
    return rows.map(entryOf);
  }
}
