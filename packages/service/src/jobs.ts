/**
 * Jobs from the back end, as azure-iothub's JobClient calls them (docs/jobs.md): a direct method
 * or a twin patch for every device a twin query's WHERE clause selects, and Ferry's C2D job
 * (every selected device gets its own copy of a message). Creating a job is never retried (the
 * first attempt may have created it); reads and cancel are.
 */
import { randomUUID } from 'node:crypto';
import { FerryError } from '@ferry/common';
import { type HttpsTarget, noRetry, type RetryPolicy, type TokenSource } from '@ferry/common/client';
import type { MethodParams } from './methods.js';
import type { TwinPatch } from './registry.js';
import { pages, type RestReply, restCall } from './rest.js';
import type { SendMessage } from './service-client.js';

export type JobType = 'scheduleDeviceMethod' | 'scheduleUpdateTwin' | 'scheduleCloudToDeviceMessage';
export type JobStatus = 'queued' | 'scheduled' | 'running' | 'completed' | 'failed' | 'cancelled';

/** A job as the hub shows it. */
export interface Job {
  jobId: string;
  type: JobType;
  status: JobStatus;
  queryCondition: string;
  createdTime: string;
  startTime: string;
  endTime?: string;
  maxExecutionTimeInSeconds: number;
  failureReason?: string;
  cloudToDeviceMethod?: MethodParams;
  updateTwin?: TwinPatch;
  cloudToDeviceMessage?: Record<string, unknown>;
  deviceJobStatistics: {
    deviceCount: number;
    succeededCount: number;
    failedCount: number;
    pendingCount: number;
    runningCount: number;
    cancelledCount?: number;
  };
}

/** One device's row of a job (SELECT * FROM devices.jobs). */
export interface DeviceJobResult {
  deviceId: string;
  jobId: string;
  jobType: JobType;
  status: 'pending' | 'completed' | 'failed' | 'cancelled';
  createdDateTimeUtc: string;
  lastUpdatedDateTimeUtc: string;
  endTimeUtc?: string;
  outcome?: {
    deviceMethodResponse?: { status: number; payload: unknown };
    sequenceNumber?: number;
    messageId?: string;
  };
  error?: { code: string; errorCode: string; description: string };
}

export interface JobSchedule {
  /** Default now. */
  startTime?: Date;
  /** Default 3600. */
  maxExecutionTimeInSeconds?: number;
}

/** A C2D job's message: a send's fields (userId aside). */
export type JobMessage = Omit<SendMessage, 'userId'>;

function jobPath(jobId: string): string {
  if (typeof jobId !== 'string' || jobId === '') throw new FerryError('ArgumentNull', 'A job id is required');
  return `/jobs/v2/${encodeURIComponent(jobId)}`;
}

/** The wire form of a job's message; the message id defaults to a new UUID, as a send's does. */
function messageJson(m: JobMessage): Record<string, unknown> {
  const body = typeof m.body === 'string' ? Buffer.from(m.body, 'utf8') : Buffer.from(m.body);
  const expiry = m.ttlMs !== undefined ? Date.now() + m.ttlMs : m.expiry;
  return {
    body: body.toString('base64'),
    messageId: m.messageId ?? randomUUID(),
    ...(m.correlationId !== undefined && { correlationId: m.correlationId }),
    ...(m.contentType !== undefined && { contentType: m.contentType }),
    ...(m.contentEncoding !== undefined && { contentEncoding: m.contentEncoding }),
    ...(m.ack !== undefined && { ack: m.ack }),
    ...(expiry !== undefined && { expiryTimeUtc: new Date(expiry).toISOString() }),
    ...(m.properties !== undefined && { properties: m.properties }),
  };
}

export class JobClient {
  constructor(
    private readonly target: HttpsTarget,
    private readonly tokens: TokenSource,
    private readonly retry: RetryPolicy,
  ) {}

  scheduleDeviceMethod(jobId: string, queryCondition: string, method: MethodParams, when: JobSchedule = {}) {
    return this.create(jobId, 'scheduleDeviceMethod', queryCondition, { cloudToDeviceMethod: method }, when);
  }

  scheduleTwinUpdate(jobId: string, queryCondition: string, patch: TwinPatch, when: JobSchedule = {}) {
    return this.create(jobId, 'scheduleUpdateTwin', queryCondition, { updateTwin: patch }, when);
  }

  /** Ferry's C2D job: every selected device gets its own copy (docs/jobs.md). */
  scheduleCloudToDeviceMessage(jobId: string, queryCondition: string, message: JobMessage, when: JobSchedule = {}) {
    const params = { cloudToDeviceMessage: messageJson(message) };
    return this.create(jobId, 'scheduleCloudToDeviceMessage', queryCondition, params, when);
  }

  async getJob(jobId: string): Promise<Job> {
    return (await this.call<Job>('GET', jobPath(jobId))).value;
  }

  async cancelJob(jobId: string): Promise<Job> {
    return (await this.call<Job>('POST', `${jobPath(jobId)}/cancel`)).value;
  }

  /** Jobs by id, page by page, of a type and in a status when given. */
  listJobs(filter: { type?: JobType; status?: JobStatus; pageSize?: number } = {}): AsyncGenerator<Job[]> {
    const q = new URLSearchParams();
    if (filter.type) q.set('jobType', filter.type);
    if (filter.status) q.set('jobStatus', filter.status);
    const path = `/jobs/v2/query${q.size ? `?${q}` : ''}`;
    return pages((headers) => this.call<Job[]>('GET', path, undefined, headers), filter.pageSize);
  }

  /** The job's devices and their results, page by page. */
  deviceResults(jobId: string, options: { pageSize?: number } = {}): AsyncGenerator<DeviceJobResult[]> {
    const query = `SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '${jobId.replaceAll("'", "''")}'`;
    return pages(
      (headers) => this.call<DeviceJobResult[]>('POST', '/devices/query', { query }, headers),
      options.pageSize,
    );
  }

  private async create(
    jobId: string,
    type: JobType,
    queryCondition: string,
    params: Record<string, unknown>,
    when: JobSchedule,
  ): Promise<Job> {
    if (typeof queryCondition !== 'string' || queryCondition === '')
      throw new FerryError('ArgumentNull', 'A query condition (a WHERE clause) is required');
    const body = {
      jobId,
      type,
      queryCondition,
      ...params,
      startTime: (when.startTime ?? new Date()).toISOString(),
      maxExecutionTimeInSeconds: when.maxExecutionTimeInSeconds ?? 3600,
    };
    const path = jobPath(jobId);
    return (await restCall<Job>(this.target, this.tokens, noRetry, { method: 'PUT', path, body })).value;
  }

  private call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<RestReply<T>> {
    return restCall<T>(this.target, this.tokens, this.retry, { method, path, body, headers });
  }
}
