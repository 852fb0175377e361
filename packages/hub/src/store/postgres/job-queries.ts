/**
 * Jobs and their per-device ledger on PostgreSQL (jobs/types.ts JobStore). A claim takes the
 * oldest due job with FOR UPDATE SKIP LOCKED, so nodes asking at once never claim one twice;
 * JOBS_SQL (migration 8) wraps ferry_apply so a C2D job's copy is enqueued only while its ledger
 * row is pending, and marks the row in the same transaction.
 */
import type pg from 'pg';
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
import { guarded } from './guarded.js';

const ACTIVE = "('queued', 'scheduled', 'running')";
const limitOf = (n: number) => Math.max(0, Math.floor(n));

/** PostgresStore's jobs part. */
export abstract class PostgresJobStore implements JobStore {
  constructor(private readonly jobPool: pg.Pool) {}

  private async rows<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    return guarded(this.jobPool.query<R>(sql, values));
  }

  async insertJob(job: JobRecord): Promise<boolean> {
    const r = await this.rows(
      `INSERT INTO jobs (${JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
       ON CONFLICT (job_id) DO NOTHING`,
      jobValues(job),
    );
    return r.rowCount === 1;
  }

  async getJob(jobId: string): Promise<JobRecord | undefined> {
    const r = await this.rows<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE job_id = $1`, [jobId]);
    return r.rows[0] && jobOf(r.rows[0]);
  }

  async listJobs(q: JobListQuery): Promise<JobRecord[]> {
    const r = await this.rows<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM jobs WHERE job_id COLLATE "C" > $1::text
         AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR status = $3)
       ORDER BY job_id COLLATE "C" LIMIT $4`,
      [q.afterJobId ?? '', q.type ?? null, q.status ?? null, limitOf(q.limit)],
    );
    return r.rows.map(jobOf);
  }

  async claimJob(owner: string, now: number, leaseMs: number): Promise<JobRecord | undefined> {
    const r = await this.rows<JobRow>(
      `UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2::bigint + $3::bigint
       WHERE job_id = (SELECT job_id FROM jobs WHERE status IN ${ACTIVE} AND start_time <= $2
         AND (lease_until IS NULL OR lease_until <= $2) ORDER BY start_time, job_id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING ${JOB_COLUMNS}`,
      [owner, now, leaseMs],
    );
    return r.rows[0] && jobOf(r.rows[0]);
  }

  async updateJob(jobId: string, change: JobChange, owner: string | null): Promise<boolean> {
    const set = jobChangeSet(change, (i) => `$${i}`);
    if (set.values.length === 0) return (await this.getJob(jobId)) !== undefined;
    const n = set.values.length;
    const r = await this.rows(
      `UPDATE jobs SET ${set.sql} WHERE job_id = $${n + 1} AND status IN ${ACTIVE}
         AND ($${n + 2}::text IS NULL OR lease_owner = $${n + 2})`,
      [...set.values, jobId, owner],
    );
    return r.rowCount === 1;
  }

  async addJobDevices(jobId: string, deviceIds: readonly string[], through: string, now: number): Promise<void> {
    await this.rows(
      `WITH added AS (
         INSERT INTO job_devices (job_id, device_id, status, created_time, updated_time)
         SELECT $1, id, 'pending', $4, $4 FROM unnest($2::text[]) AS id ON CONFLICT (job_id, device_id) DO NOTHING)
       UPDATE jobs SET selected_through = $3 WHERE job_id = $1`,
      [jobId, deviceIds, through, now],
    );
  }

  async pendingJobDevices(jobId: string, afterDeviceId: string, limit: number): Promise<string[]> {
    const r = await this.rows<{ device_id: string }>(
      `SELECT device_id FROM job_devices WHERE job_id = $1 AND status = 'pending' AND device_id COLLATE "C" > $2::text
       ORDER BY device_id COLLATE "C" LIMIT $3`,
      [jobId, afterDeviceId, limitOf(limit)],
    );
    return r.rows.map((x) => x.device_id);
  }

  async recordJobDevices(jobId: string, results: readonly DeviceJobResult[], now: number): Promise<number> {
    if (results.length === 0) return 0;
    const rows = results.map((x) => {
      const [outcome, error] = resultColumns(x);
      return { device_id: x.deviceId, status: x.status, outcome, error };
    });
    const r = await this.rows(
      `UPDATE job_devices d SET status = x.status, outcome = x.outcome, error = x.error, updated_time = $2,
         end_time = CASE WHEN x.status = 'pending' THEN NULL ELSE $2::bigint END
       FROM jsonb_to_recordset($3::jsonb) AS x(device_id text, status text, outcome text, error text)
       WHERE d.job_id = $1 AND d.device_id = x.device_id AND d.status = 'pending'`,
      [jobId, now, JSON.stringify(rows)],
    );
    return r.rowCount ?? 0;
  }

  async closeJobDevices(
    jobId: string,
    status: 'failed' | 'cancelled',
    error: DeviceJobError | null,
    now: number,
  ): Promise<number> {
    const r = await this.rows(
      `UPDATE job_devices SET status = $2, error = coalesce(error, $3), updated_time = $4, end_time = $4
       WHERE job_id = $1 AND status = 'pending'`,
      [jobId, status, error ? JSON.stringify(error) : null, now],
    );
    return r.rowCount ?? 0;
  }

  async countJobDevices(jobId: string): Promise<DeviceJobCounts> {
    const r = await this.rows<{ status: string; n: string }>(
      'SELECT status, count(*) AS n FROM job_devices WHERE job_id = $1 GROUP BY status',
      [jobId],
    );
    const counts: DeviceJobCounts = { pending: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const x of r.rows) counts[x.status as keyof DeviceJobCounts] = Number(x.n);
    return counts;
  }

  async listJobDevices(jobId: string, afterDeviceId: string, limit: number): Promise<DeviceJobRecord[]> {
    const r = await this.rows<JobDeviceRow>(
      `SELECT ${JOB_DEVICE_COLUMNS} FROM job_devices WHERE job_id = $1 AND device_id COLLATE "C" > $2::text
       ORDER BY device_id COLLATE "C" LIMIT $3`,
      [jobId, afterDeviceId, limitOf(limit)],
    );
    return r.rows.map(jobDeviceOf);
  }

  async deleteFinishedJobs(endedBefore: number, limit: number): Promise<number> {
    const r = await this.rows<{ n: string }>(
      `WITH gone AS (
         DELETE FROM jobs WHERE job_id IN (
           SELECT job_id FROM jobs WHERE status NOT IN ${ACTIVE} AND end_time < $1 ORDER BY end_time LIMIT $2
           FOR UPDATE SKIP LOCKED)
         RETURNING job_id),
       ledger AS (DELETE FROM job_devices WHERE job_id IN (SELECT job_id FROM gone))
       SELECT count(*) AS n FROM gone`,
      [endedBefore, limitOf(limit)],
    );
    return Number(r.rows[0]?.n ?? 0);
  }
}

/** Migration 8: the tables, and ferry_apply wrapped (not edited) for a job's C2D copies. */
export const JOBS_SQL = `
CREATE TABLE jobs (
  job_id text PRIMARY KEY,
  type text NOT NULL,
  status text NOT NULL,
  query_condition text NOT NULL,
  created_time bigint NOT NULL,
  start_time bigint NOT NULL,
  end_time bigint,
  max_execution_seconds integer NOT NULL,
  parameters text NOT NULL,
  failure_reason text,
  selected boolean NOT NULL,
  selected_through text NOT NULL,
  lease_owner text,
  lease_until bigint
);
CREATE INDEX jobs_active ON jobs (start_time) WHERE status IN ('queued', 'scheduled', 'running');
CREATE TABLE job_devices (
  job_id text NOT NULL,
  device_id text NOT NULL,
  status text NOT NULL,
  created_time bigint NOT NULL,
  updated_time bigint NOT NULL,
  end_time bigint,
  outcome text,
  error text,
  PRIMARY KEY (job_id, device_id)
);
CREATE INDEX job_devices_pending ON job_devices (job_id, device_id COLLATE "C") WHERE status = 'pending';

ALTER FUNCTION ferry_apply(jsonb, bytea, bigint, text, jsonb) RENAME TO ferry_apply_unjobbed;

CREATE FUNCTION ferry_apply(p_op jsonb, p_body bytea, p_now bigint, p_now_iso text, p_policy jsonb,
  OUT result jsonb, OUT woken text[], OUT appended integer, OUT available boolean, OUT deadline bigint)
LANGUAGE plpgsql AS $$
DECLARE
  job text := p_op->>'job';
  dev text := p_op->>'d';
BEGIN
  IF job IS NOT NULL THEN
    -- Locked, so a second node sending the same copy waits and then finds the row done.
    PERFORM 1 FROM job_devices WHERE job_id = job AND device_id = dev AND status = 'pending' FOR UPDATE;
    IF NOT FOUND THEN
      woken := '{}';
      appended := 0;
      available := false;
      result := '{"ok": false, "error": "JobDeviceNotPending"}';
      RETURN;
    END IF;
  END IF;
  SELECT * INTO result, woken, appended, available, deadline
    FROM ferry_apply_unjobbed(p_op, p_body, p_now, p_now_iso, p_policy);
  IF job IS NOT NULL AND (result->>'ok')::boolean THEN
    UPDATE job_devices SET status = 'completed', updated_time = p_now, end_time = p_now,
      outcome = jsonb_strip_nulls(jsonb_build_object('sequenceNumber', (result->>'sequenceNumber')::bigint,
        'messageId', p_op->>'messageId'))::text
    WHERE job_id = job AND device_id = dev;
  END IF;
END $$;
`;
