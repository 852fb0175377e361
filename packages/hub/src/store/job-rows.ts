/** Job and ledger rows as both adapters read them (numbers may come back as text from PostgreSQL). */
import type {
  DeviceJobError,
  DeviceJobRecord,
  DeviceJobStatus,
  JobChange,
  JobRecord,
  JobStatus,
  JobType,
} from '../jobs/types.js';
import type { JsonObject } from '../twins/json.js';

export const JOB_COLUMNS = `job_id, type, status, query_condition, created_time, start_time, end_time,
  max_execution_seconds, parameters, failure_reason, selected, selected_through, lease_owner, lease_until`;

export const JOB_DEVICE_COLUMNS = 'job_id, device_id, status, created_time, updated_time, end_time, outcome, error';

export interface JobRow {
  job_id: string;
  type: string;
  status: string;
  query_condition: string;
  created_time: number | string;
  start_time: number | string;
  end_time: number | string | null;
  max_execution_seconds: number | string;
  parameters: string;
  failure_reason: string | null;
  selected: number | boolean;
  selected_through: string;
  lease_owner: string | null;
  lease_until: number | string | null;
}

export interface JobDeviceRow {
  job_id: string;
  device_id: string;
  status: string;
  created_time: number | string;
  updated_time: number | string;
  end_time: number | string | null;
  outcome: string | null;
  error: string | null;
}

const numberOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

/** The insert's values, in JOB_COLUMNS order. */
export function jobValues(j: JobRecord): unknown[] {
  return [
    j.jobId,
    j.type,
    j.status,
    j.queryCondition,
    j.createdTime,
    j.startTime,
    j.endTime,
    j.maxExecutionTimeInSeconds,
    JSON.stringify(j.parameters),
    j.failureReason,
    j.selected,
    j.selectedThrough,
    j.leaseOwner,
    j.leaseUntil,
  ];
}

export function jobOf(r: JobRow): JobRecord {
  return {
    jobId: r.job_id,
    type: r.type as JobType,
    status: r.status as JobStatus,
    queryCondition: r.query_condition,
    createdTime: Number(r.created_time),
    startTime: Number(r.start_time),
    endTime: numberOrNull(r.end_time),
    maxExecutionTimeInSeconds: Number(r.max_execution_seconds),
    parameters: JSON.parse(r.parameters) as JsonObject,
    failureReason: r.failure_reason,
    selected: Boolean(r.selected),
    selectedThrough: r.selected_through,
    leaseOwner: r.lease_owner,
    leaseUntil: numberOrNull(r.lease_until),
  };
}

export function jobDeviceOf(r: JobDeviceRow): DeviceJobRecord {
  return {
    jobId: r.job_id,
    deviceId: r.device_id,
    status: r.status as DeviceJobStatus,
    createdTime: Number(r.created_time),
    lastUpdatedTime: Number(r.updated_time),
    endTime: numberOrNull(r.end_time),
    outcome: r.outcome === null ? null : (JSON.parse(r.outcome) as JsonObject),
    error: r.error === null ? null : (JSON.parse(r.error) as DeviceJobError),
  };
}

const CHANGE_COLUMNS: Record<keyof JobChange, string> = {
  status: 'status',
  endTime: 'end_time',
  failureReason: 'failure_reason',
  selected: 'selected',
  leaseOwner: 'lease_owner',
  leaseUntil: 'lease_until',
};

/** The SET list of a change (column names from a fixed table, values bound) for `?` or `$n` placeholders. */
export function jobChangeSet(
  change: JobChange,
  placeholder: (i: number) => string,
): { sql: string; values: unknown[] } {
  const parts: string[] = [];
  const values: unknown[] = [];
  for (const key of Object.keys(CHANGE_COLUMNS) as Array<keyof JobChange>) {
    if (!(key in change)) continue;
    const v = change[key];
    values.push(v);
    parts.push(`${CHANGE_COLUMNS[key]} = ${placeholder(values.length)}`);
  }
  return { sql: parts.join(', '), values };
}

/** A result's columns: JSON text or null. */
export function resultColumns(r: { outcome?: JsonObject; error?: DeviceJobError }): [string | null, string | null] {
  return [r.outcome ? JSON.stringify(r.outcome) : null, r.error ? JSON.stringify(r.error) : null];
}
