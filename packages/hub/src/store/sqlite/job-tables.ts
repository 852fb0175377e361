/**
 * Jobs and their per-device ledger on SQLite (jobs/types.ts JobStore). One writer at a time, so a
 * claim is a plain UPDATE in a transaction. `enqueueGuard` lets a C2D enqueue of a job's copy
 * check and mark the device's ledger row inside the commit's own transaction.
 */
import type Database from 'better-sqlite3';
import type {
  DeviceJobCounts,
  DeviceJobError,
  DeviceJobRecord,
  DeviceJobResult,
  JobChange,
  JobListQuery,
  JobRecord,
  JobStore,
} from '../../jobs/types.js';
import {
  JOB_COLUMNS,
  JOB_DEVICE_COLUMNS,
  type JobDeviceRow,
  type JobRow,
  jobChangeSet,
  jobDeviceOf,
  jobOf,
  jobValues,
  resultColumns,
} from '../job-rows.js';

const ACTIVE = "('queued', 'scheduled', 'running')";
const sqliteValue = (v: unknown): unknown => (typeof v === 'boolean' ? Number(v) : v);

export class JobTables {
  private readonly insert: Database.Statement<unknown[]>;
  private readonly get: Database.Statement<[string], JobRow>;
  private readonly due: Database.Statement<[number, number], JobRow>;
  private readonly addDevice: Database.Statement<[string, string, number, number]>;
  private readonly setThrough: Database.Statement<[string, string]>;
  private readonly pending: Database.Statement<[string, string, number], { device_id: string }>;
  private readonly record: Database.Statement<unknown[]>;
  private readonly close: Database.Statement<unknown[]>;
  private readonly counts: Database.Statement<[string], { status: string; n: number }>;
  private readonly list: Database.Statement<[string, string, number], JobDeviceRow>;
  private readonly rowStatus: Database.Statement<[string, string], { status: string }>;
  private readonly markSent: Database.Statement<[number, number, string, string, string]>;
  private readonly addAll: (jobId: string, ids: readonly string[], through: string, now: number) => void;
  private readonly recordAll: (jobId: string, results: readonly DeviceJobResult[], now: number) => number;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO jobs (${JOB_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING`,
    );
    this.get = db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE job_id = ?`);
    this.due = db.prepare(
      `SELECT ${JOB_COLUMNS} FROM jobs WHERE status IN ${ACTIVE} AND start_time <= ?
         AND (lease_until IS NULL OR lease_until <= ?) ORDER BY start_time, job_id LIMIT 1`,
    );
    this.addDevice = db.prepare(
      `INSERT INTO job_devices (job_id, device_id, status, created_time, updated_time)
       VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (job_id, device_id) DO NOTHING`,
    );
    this.setThrough = db.prepare('UPDATE jobs SET selected_through = ? WHERE job_id = ?');
    this.pending = db.prepare(
      `SELECT device_id FROM job_devices WHERE job_id = ? AND status = 'pending' AND device_id > ?
       ORDER BY device_id LIMIT ?`,
    );
    this.record = db.prepare(
      `UPDATE job_devices SET status = ?, outcome = ?, error = ?, updated_time = ?, end_time = ?
       WHERE job_id = ? AND device_id = ? AND status = 'pending'`,
    );
    this.close = db.prepare(
      `UPDATE job_devices SET status = ?, error = coalesce(error, ?), updated_time = ?, end_time = ?
       WHERE job_id = ? AND status = 'pending'`,
    );
    this.counts = db.prepare('SELECT status, count(*) AS n FROM job_devices WHERE job_id = ? GROUP BY status');
    this.list = db.prepare(
      `SELECT ${JOB_DEVICE_COLUMNS} FROM job_devices WHERE job_id = ? AND device_id > ? ORDER BY device_id LIMIT ?`,
    );
    this.rowStatus = db.prepare('SELECT status FROM job_devices WHERE job_id = ? AND device_id = ?');
    this.markSent = db.prepare(
      `UPDATE job_devices SET status = 'completed', updated_time = ?, end_time = ?, outcome = ?
       WHERE job_id = ? AND device_id = ?`,
    );
    this.addAll = db.transaction((jobId: string, ids: readonly string[], through: string, now: number) => {
      for (const id of ids) this.addDevice.run(jobId, id, now, now);
      this.setThrough.run(through, jobId);
    });
    this.recordAll = db.transaction((jobId: string, results: readonly DeviceJobResult[], now: number) => {
      let n = 0;
      for (const r of results) {
        const end = r.status === 'pending' ? null : now;
        n += this.record.run(r.status, ...resultColumns(r), now, end, jobId, r.deviceId).changes;
      }
      return n;
    });
  }

  insertJob(job: JobRecord): boolean {
    return this.insert.run(...jobValues(job).map(sqliteValue)).changes === 1;
  }

  getJob(jobId: string): JobRecord | undefined {
    const r = this.get.get(jobId);
    return r && jobOf(r);
  }

  listJobs(q: JobListQuery): JobRecord[] {
    const params: unknown[] = [q.afterJobId ?? ''];
    let where = 'job_id > ?';
    if (q.type) {
      where += ' AND type = ?';
      params.push(q.type);
    }
    if (q.status) {
      where += ' AND status = ?';
      params.push(q.status);
    }
    const rows = this.db
      .prepare<unknown[], JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE ${where} ORDER BY job_id LIMIT ?`)
      .all(...params, Math.max(0, Math.floor(q.limit)));
    return rows.map(jobOf);
  }

  claimJob(owner: string, now: number, leaseMs: number): JobRecord | undefined {
    return this.db
      .transaction(() => {
        const r = this.due.get(now, now);
        if (!r) return undefined;
        this.db
          .prepare("UPDATE jobs SET status = 'running', lease_owner = ?, lease_until = ? WHERE job_id = ?")
          .run(owner, now + leaseMs, r.job_id);
        return { ...jobOf(r), status: 'running' as const, leaseOwner: owner, leaseUntil: now + leaseMs };
      })
      .immediate();
  }

  updateJob(jobId: string, change: JobChange, owner: string | null): boolean {
    const set = jobChangeSet(change, () => '?');
    if (set.values.length === 0) return this.getJob(jobId) !== undefined;
    const ownerSql = owner === null ? '' : ' AND lease_owner = ?';
    const params = [...set.values.map(sqliteValue), jobId, ...(owner === null ? [] : [owner])];
    return (
      this.db.prepare(`UPDATE jobs SET ${set.sql} WHERE job_id = ? AND status IN ${ACTIVE}${ownerSql}`).run(...params)
        .changes === 1
    );
  }

  addJobDevices(jobId: string, deviceIds: readonly string[], through: string, now: number): void {
    this.addAll(jobId, deviceIds, through, now);
  }

  pendingJobDevices(jobId: string, afterDeviceId: string, limit: number): string[] {
    return this.pending.all(jobId, afterDeviceId, Math.max(0, Math.floor(limit))).map((r) => r.device_id);
  }

  recordJobDevices(jobId: string, results: readonly DeviceJobResult[], now: number): number {
    return this.recordAll(jobId, results, now);
  }

  closeJobDevices(jobId: string, status: 'failed' | 'cancelled', error: DeviceJobError | null, now: number): number {
    return this.close.run(status, error ? JSON.stringify(error) : null, now, now, jobId).changes;
  }

  countJobDevices(jobId: string): DeviceJobCounts {
    const counts: DeviceJobCounts = { pending: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const r of this.counts.all(jobId)) counts[r.status as keyof DeviceJobCounts] = r.n;
    return counts;
  }

  listJobDevices(jobId: string, afterDeviceId: string, limit: number): DeviceJobRecord[] {
    return this.list.all(jobId, afterDeviceId, Math.max(0, Math.floor(limit))).map(jobDeviceOf);
  }

  deleteFinishedJobs(endedBefore: number, limit: number): number {
    return this.db.transaction(() => {
      const ids = this.db
        .prepare<[number, number], { job_id: string }>(
          `SELECT job_id FROM jobs WHERE status NOT IN ${ACTIVE} AND end_time < ? ORDER BY end_time LIMIT ?`,
        )
        .all(endedBefore, Math.max(0, Math.floor(limit)))
        .map((r) => r.job_id);
      const devices = this.db.prepare('DELETE FROM job_devices WHERE job_id = ?');
      const job = this.db.prepare('DELETE FROM jobs WHERE job_id = ?');
      for (const id of ids) {
        devices.run(id);
        job.run(id);
      }
      return ids.length;
    })();
  }

  /** Inside a C2D commit: whether the job's row for the device is still pending (its copy not yet sent). */
  copyPending(jobId: string, deviceId: string): boolean {
    return this.rowStatus.get(jobId, deviceId)?.status === 'pending';
  }

  /** Inside the same C2D commit, after the copy was enqueued. */
  copySent(jobId: string, deviceId: string, sequenceNumber: number, messageId: string | undefined, now: number): void {
    const outcome = JSON.stringify({ sequenceNumber, ...(messageId !== undefined && { messageId }) });
    this.markSent.run(now, now, outcome, jobId, deviceId);
  }
}

/** SqliteStore's jobs part: JobStore over the tables, each write answered once durable. */
export abstract class SqliteJobStore implements JobStore {
  protected abstract readonly jobs: JobTables;
  protected abstract synced<T>(value: T): Promise<T>;

  async insertJob(job: JobRecord): Promise<boolean> {
    return this.synced(this.jobs.insertJob(job));
  }
  async getJob(jobId: string): Promise<JobRecord | undefined> {
    return this.jobs.getJob(jobId);
  }
  async listJobs(query: JobListQuery): Promise<JobRecord[]> {
    return this.jobs.listJobs(query);
  }
  async claimJob(owner: string, now: number, leaseMs: number): Promise<JobRecord | undefined> {
    return this.synced(this.jobs.claimJob(owner, now, leaseMs));
  }
  async updateJob(jobId: string, change: JobChange, owner: string | null): Promise<boolean> {
    return this.synced(this.jobs.updateJob(jobId, change, owner));
  }
  async addJobDevices(jobId: string, deviceIds: readonly string[], through: string, now: number): Promise<void> {
    return this.synced(this.jobs.addJobDevices(jobId, deviceIds, through, now));
  }
  async pendingJobDevices(jobId: string, afterDeviceId: string, limit: number): Promise<string[]> {
    return this.jobs.pendingJobDevices(jobId, afterDeviceId, limit);
  }
  async recordJobDevices(jobId: string, results: readonly DeviceJobResult[], now: number): Promise<number> {
    return this.synced(this.jobs.recordJobDevices(jobId, results, now));
  }
  async closeJobDevices(
    jobId: string,
    status: 'failed' | 'cancelled',
    error: DeviceJobError | null,
    now: number,
  ): Promise<number> {
    return this.synced(this.jobs.closeJobDevices(jobId, status, error, now));
  }
  async countJobDevices(jobId: string): Promise<DeviceJobCounts> {
    return this.jobs.countJobDevices(jobId);
  }
  async listJobDevices(jobId: string, afterDeviceId: string, limit: number): Promise<DeviceJobRecord[]> {
    return this.jobs.listJobDevices(jobId, afterDeviceId, limit);
  }
  async deleteFinishedJobs(endedBefore: number, limit: number): Promise<number> {
    return this.synced(this.jobs.deleteFinishedJobs(endedBefore, limit));
  }
}

/** Migration 9. */
export const JOB_TABLES_SQL = `
  CREATE TABLE jobs (
    job_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    query_condition TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    max_execution_seconds INTEGER NOT NULL,
    parameters TEXT NOT NULL,
    failure_reason TEXT,
    selected INTEGER NOT NULL,
    selected_through TEXT NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER
  );
  CREATE INDEX jobs_active ON jobs (start_time) WHERE status IN ('queued', 'scheduled', 'running');
  CREATE TABLE job_devices (
    job_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    updated_time INTEGER NOT NULL,
    end_time INTEGER,
    outcome TEXT,
    error TEXT,
    PRIMARY KEY (job_id, device_id)
  );
  CREATE INDEX job_devices_pending ON job_devices (job_id, device_id) WHERE status = 'pending';
`;
