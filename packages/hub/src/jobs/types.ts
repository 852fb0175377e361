/**
 * The jobs domain's shapes and its store contract (test/job-store-contract.ts, run on SQLite and
 * PostgreSQL). A job is one row; each device it selected has one ledger row (jobId, deviceId,
 * status, outcome or error), so a restart resumes where the job was and never acts twice on a
 * device whose row is done. Protocol-free: gateways/http maps IoT Hub's JSON to these.
 */
import type { JsonObject } from '../twins/json.js';

export type JobType = 'scheduleDeviceMethod' | 'scheduleUpdateTwin' | 'scheduleCloudToDeviceMessage';
export const JOB_TYPES: readonly JobType[] = [
  'scheduleDeviceMethod',
  'scheduleUpdateTwin',
  'scheduleCloudToDeviceMessage',
];

/** IoT Hub's job states. */
export type JobStatus = 'queued' | 'scheduled' | 'running' | 'completed' | 'failed' | 'cancelled';
export const JOB_STATUSES: readonly JobStatus[] = [
  'queued',
  'scheduled',
  'running',
  'completed',
  'failed',
  'cancelled',
];
/** States a job leaves only for a final one. */
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = ['queued', 'scheduled', 'running'];

export interface JobRecord {
  jobId: string;
  type: JobType;
  status: JobStatus;
  /** The WHERE clause of a twin query. */
  queryCondition: string;
  /** ms since the epoch */
  createdTime: number;
  startTime: number;
  endTime: number | null;
  maxExecutionTimeInSeconds: number;
  /** The type's parameters as given: cloudToDeviceMethod, updateTwin or cloudToDeviceMessage. */
  parameters: JsonObject;
  failureReason: string | null;
  /** Every matching device has its ledger row. */
  selected: boolean;
  /** The last device id given a ledger row ('' before any): the selection resumes after it. */
  selectedThrough: string;
  /** The node running the job and until when its claim holds; null when none. */
  leaseOwner: string | null;
  leaseUntil: number | null;
}

/** What updateJob may change. */
export type JobChange = Partial<
  Pick<JobRecord, 'status' | 'endTime' | 'failureReason' | 'selected' | 'leaseOwner' | 'leaseUntil'>
>;

/** A device's state in a job (IoT Hub's device job statuses). */
export type DeviceJobStatus = 'pending' | 'completed' | 'failed' | 'cancelled';
export const DEVICE_JOB_STATUSES: readonly DeviceJobStatus[] = ['pending', 'completed', 'failed', 'cancelled'];

export interface DeviceJobError {
  /** IoT Hub's error name (DeviceMaximumQueueDepthExceeded...) */
  code: string;
  /** IoT Hub's six-digit code as text ('403004'). */
  errorCode: string;
  description: string;
}

export interface DeviceJobRecord {
  jobId: string;
  deviceId: string;
  status: DeviceJobStatus;
  /** ms since the epoch */
  createdTime: number;
  lastUpdatedTime: number;
  /** Set when the device's row became final. */
  endTime: number | null;
  outcome: JsonObject | null;
  /** The last failure (a pending row keeps the last retryable one). */
  error: DeviceJobError | null;
}

/** A device's result: `pending` records a retryable failure and keeps the row pending. */
export interface DeviceJobResult {
  deviceId: string;
  status: DeviceJobStatus;
  outcome?: JsonObject;
  error?: DeviceJobError;
}

export type DeviceJobCounts = Record<DeviceJobStatus, number>;

export interface JobListQuery {
  type?: JobType;
  status?: JobStatus;
  /** Only jobs with an id greater than this one (the previous page's last). */
  afterJobId?: string;
  limit: number;
}

export interface JobStore {
  /** Insert; false when the id exists. */
  insertJob(job: JobRecord): Promise<boolean>;
  getJob(jobId: string): Promise<JobRecord | undefined>;
  /** Ordered by job id (byte order). */
  listJobs(query: JobListQuery): Promise<JobRecord[]>;
  /**
   * Claims one job that is due: active, startTime <= now, and no claim that holds at `now`. Sets
   * its lease to owner until now + leaseMs and its status to running; one claimer wins
   * whichever nodes ask at once. undefined when none is due.
   */
  claimJob(owner: string, now: number, leaseMs: number): Promise<JobRecord | undefined>;
  /**
   * Applies the change when the job is still active and (owner non-null) its lease is owner's;
   * false otherwise (cancelled, finished, or claimed by another node).
   */
  updateJob(jobId: string, change: JobChange, owner: string | null): Promise<boolean>;
  /** Pending ledger rows for these devices (existing ones untouched) and selectedThrough, in one transaction. */
  addJobDevices(jobId: string, deviceIds: readonly string[], through: string, now: number): Promise<void>;
  /** The pending devices after `afterDeviceId`, by id, at most `limit`. */
  pendingJobDevices(jobId: string, afterDeviceId: string, limit: number): Promise<string[]>;
  /** Writes the results onto the rows that are still pending; returns how many it wrote. */
  recordJobDevices(jobId: string, results: readonly DeviceJobResult[], now: number): Promise<number>;
  /** Every row still pending becomes `status`, its last error kept (or `error` when it had none). */
  closeJobDevices(
    jobId: string,
    status: 'failed' | 'cancelled',
    error: DeviceJobError | null,
    now: number,
  ): Promise<number>;
  countJobDevices(jobId: string): Promise<DeviceJobCounts>;
  /** The job's ledger rows after `afterDeviceId`, by id, at most `limit`. */
  listJobDevices(jobId: string, afterDeviceId: string, limit: number): Promise<DeviceJobRecord[]>;
  /** Deletes at most `limit` finished jobs that ended before `endedBefore`, with their ledgers; returns how many. */
  deleteFinishedJobs(endedBefore: number, limit: number): Promise<number>;
}
