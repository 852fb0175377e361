/** Hub CA certificates on PostgreSQL: one statement each, so each is atomic. */
import type pg from 'pg';
import { CA_COLUMNS, type CaRow, caRecordOf } from '../rows.js';
import type { CaCertificateRecord } from '../types.js';

/** $1..$7 in CA_COLUMNS order. */
function values(c: CaCertificateRecord): unknown[] {
  return [c.name, c.etag, c.certificatePem, c.isVerified, c.verificationCode, c.createdAt, c.updatedAt];
}

export class CaCertificateQueries {
  constructor(private readonly pool: pg.Pool) {}

  async list(): Promise<CaCertificateRecord[]> {
    // COLLATE "C": the same byte order as SQLite's, whatever the database's collation.
    const r = await this.pool.query<CaRow>(`SELECT ${CA_COLUMNS} FROM ca_certificates ORDER BY name COLLATE "C"`);
    return r.rows.map(caRecordOf);
  }

  async get(name: string): Promise<CaCertificateRecord | undefined> {
    const r = await this.pool.query<CaRow>(`SELECT ${CA_COLUMNS} FROM ca_certificates WHERE name = $1`, [name]);
    return r.rows[0] && caRecordOf(r.rows[0]);
  }

  async insert(c: CaCertificateRecord): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO ca_certificates (${CA_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING`,
      values(c),
    );
    return r.rowCount === 1;
  }

  async replace(c: CaCertificateRecord, expectedEtag: string): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE ca_certificates SET etag = $2, certificate = $3, is_verified = $4, verification_code = $5,
         created_at = $6, updated_at = $7 WHERE name = $1 AND etag = $8`,
      [...values(c), expectedEtag],
    );
    return r.rowCount === 1;
  }

  async delete(name: string, expectedEtag: string | null): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM ca_certificates WHERE name = $1 AND ($2::text IS NULL OR etag = $2)', [
      name,
      expectedEtag,
    ]);
    return r.rowCount === 1;
  }
}
