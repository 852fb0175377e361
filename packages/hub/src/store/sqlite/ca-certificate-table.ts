/** Hub CA certificates on SQLite. Synchronous; the store wraps it. */
import type Database from 'better-sqlite3';
import { CA_COLUMNS, type CaRow, caRecordOf } from '../rows.js';
import type { CaCertificateRecord } from '../types.js';

function toParams(c: CaCertificateRecord) {
  return {
    name: c.name,
    etag: c.etag,
    certificate: c.certificatePem,
    is_verified: c.isVerified ? 1 : 0,
    verification_code: c.verificationCode,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

export class CaCertificateTable {
  private readonly listAll;
  private readonly get;
  private readonly insert;
  private readonly replace;
  private readonly remove;

  constructor(db: Database.Database) {
    this.listAll = db.prepare<[], CaRow>(`SELECT ${CA_COLUMNS} FROM ca_certificates ORDER BY name`);
    this.get = db.prepare<[string], CaRow>(`SELECT ${CA_COLUMNS} FROM ca_certificates WHERE name = ?`);
    this.insert = db.prepare(`INSERT OR IGNORE INTO ca_certificates (${CA_COLUMNS}) VALUES (@name, @etag, @certificate,
      @is_verified, @verification_code, @created_at, @updated_at)`);
    this.replace = db.prepare(`UPDATE ca_certificates SET etag = @etag, certificate = @certificate,
      is_verified = @is_verified, verification_code = @verification_code, created_at = @created_at,
      updated_at = @updated_at WHERE name = @name AND etag = @expected`);
    this.remove = db.prepare('DELETE FROM ca_certificates WHERE name = ? AND (? IS NULL OR etag = ?)');
  }

  list(): CaCertificateRecord[] {
    return this.listAll.all().map(caRecordOf);
  }

  find(name: string): CaCertificateRecord | undefined {
    const r = this.get.get(name);
    return r && caRecordOf(r);
  }

  add(c: CaCertificateRecord): boolean {
    return this.insert.run(toParams(c)).changes === 1;
  }

  put(c: CaCertificateRecord, expectedEtag: string): boolean {
    return this.replace.run({ ...toParams(c), expected: expectedEtag }).changes === 1;
  }

  delete(name: string, expectedEtag: string | null): boolean {
    return this.remove.run(name, expectedEtag, expectedEtag).changes === 1;
  }
}
