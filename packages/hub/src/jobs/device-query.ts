/**
 * SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '...' [AND ...]: a job's per-device
 * results, paged by device id. Ferry serves these queries for one job at a time (the condition
 * names its jobId at the top level); the rest of the condition is the query language's, run in
 * memory over devices.jobs.{deviceId, jobId, jobType, status}.
 */
import { FerryError } from '@ferry/common';
import { type Condition, evaluateWith, type FieldRef, type JsonValue, type Query } from '../twins/index.js';
import type { DeviceJobRecord, JobRecord, JobStore } from './types.js';

const FIELDS = ['deviceId', 'jobId', 'jobType', 'status'] as const;
const SCAN_BATCH = 500;

export interface DeviceJobPage {
  job: JobRecord | undefined;
  rows: DeviceJobRecord[];
  /** The last device id of the page when more may follow. */
  next: string | undefined;
}

function fieldName(field: FieldRef): (typeof FIELDS)[number] {
  const [a, b, name, ...rest] = field.path;
  if (a?.toLowerCase() === 'devices' && b?.toLowerCase() === 'jobs' && rest.length === 0) {
    const known = FIELDS.find((f) => f === name);
    if (known) return known;
  }
  throw new FerryError(
    'ArgumentInvalid',
    `${field.path.join('.')} (line ${field.at.line}, position ${field.at.column}): devices.jobs queries read ${FIELDS.map((f) => `devices.jobs.${f}`).join(', ')}`,
  );
}

function checkFields(c: Condition): void {
  if (c.kind === 'and' || c.kind === 'or') {
    checkFields(c.left);
    checkFields(c.right);
  } else if (c.kind === 'not') checkFields(c.operand);
  else fieldName(c.field);
}

/** The jobId the condition pins with `devices.jobs.jobId = '...'` at its top level (ANDs only). */
function pinnedJobId(c: Condition): string | undefined {
  if (c.kind === 'and') return pinnedJobId(c.left) ?? pinnedJobId(c.right);
  if (c.kind === 'compare' && c.op === '=' && fieldName(c.field) === 'jobId' && typeof c.value === 'string')
    return c.value;
  return undefined;
}

export async function queryDeviceJobs(
  store: JobStore,
  query: Query,
  limit: number,
  afterDeviceId: string,
): Promise<DeviceJobPage> {
  if (query.select !== null || query.groupBy.length > 0)
    throw new FerryError('ArgumentInvalid', 'devices.jobs queries are SELECT * in Ferry');
  const where = query.where;
  if (where) checkFields(where);
  const jobId = where ? pinnedJobId(where) : undefined;
  if (jobId === undefined)
    throw new FerryError('ArgumentInvalid', "devices.jobs queries name their job: WHERE devices.jobs.jobId = '...'");
  const job = await store.getJob(jobId);
  if (!job) return { job, rows: [], next: undefined };
  const value = (row: DeviceJobRecord, field: FieldRef): JsonValue | undefined => {
    const name = fieldName(field);
    return name === 'jobType' ? job.type : row[name];
  };
  const rows: DeviceJobRecord[] = [];
  let after = afterDeviceId;
  for (;;) {
    const batch = await store.listJobDevices(jobId, after, SCAN_BATCH);
    for (const row of batch) {
      if (evaluateWith(where!, row, value) === true) rows.push(row);
      if (rows.length === limit) return { job, rows, next: row.deviceId };
    }
    if (batch.length < SCAN_BATCH) return { job, rows, next: undefined };
    after = batch[batch.length - 1]!.deviceId;
  }
}
