/**
 * Jobs over the service REST API, as azure-iothub's JobClient calls it: PUT /jobs/v2/{id}
 * (scheduleDeviceMethod, scheduleUpdateTwin, and Ferry's scheduleCloudToDeviceMessage),
 * GET /jobs/v2/{id}, POST /jobs/v2/{id}/cancel, GET /jobs/v2/query?jobType=&jobStatus= with
 * x-ms-max-item-count and x-ms-continuation. Reads need RegistryRead, writes RegistryWrite.
 */
import type { ServerResponse } from 'node:http';
import { FerryError } from '@ferry/common';
import { JOB_STATUSES, JOB_TYPES, type JobStatus, type Jobs, type JobType } from '../../jobs/index.js';
import type { Query } from '../../twins/index.js';
import type { GatewayContext } from '../context.js';
import { parseJson, readBody } from './body.js';
import { header } from './headers.js';
import { deviceJobJson, jobJson } from './job-json.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';

const read = () => ({ permission: 'RegistryRead' as const });
const write = () => ({ permission: 'RegistryWrite' as const });
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

export function jobsOf(ctx: GatewayContext): Jobs {
  if (!ctx.jobs) throw new FerryError('NotImplemented', 'this hub runs no jobs');
  return ctx.jobs;
}

function oneOf<T extends string>(value: string | null, values: readonly T[], name: string): T | undefined {
  if (value === null || value === '') return undefined;
  if (!values.includes(value as T))
    throw new FerryError('ArgumentInvalid', `${name} must be one of ${values.join(', ')}`);
  return value as T;
}

/** x-ms-max-item-count: 1..1000, 100 when absent. */
export function pageSize(text: string | undefined): number {
  const n = text === undefined ? DEFAULT_PAGE : Number(text);
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_PAGE) : DEFAULT_PAGE;
}

/** A page of SELECT * FROM devices.jobs (POST /devices/query), IoT Hub's x-ms-item-type DeviceJob. */
export async function sendDeviceJobs(
  ctx: GatewayContext,
  res: ServerResponse,
  query: Query,
  max: string | undefined,
  continuation: string | undefined,
): Promise<void> {
  const after = continuation ? Buffer.from(continuation, 'base64url').toString('utf8') : '';
  const page = await jobsOf(ctx).deviceJobs(query, pageSize(max), after);
  const job = page.job;
  const items = job ? page.rows.map((row) => deviceJobJson(job, row)) : [];
  sendJson(res, 200, items, {
    'x-ms-item-type': 'DeviceJob',
    ...(page.next !== undefined && { 'x-ms-continuation': Buffer.from(page.next).toString('base64url') }),
  });
}

export const jobRoutes: Route[] = [
  {
    method: 'GET',
    path: '/jobs/v2/query',
    operation: read,
    async handle({ ctx, req, res, query }) {
      const type = oneOf<JobType>(query.get('jobType'), JOB_TYPES, 'jobType');
      const status = oneOf<JobStatus>(query.get('jobStatus'), JOB_STATUSES, 'jobStatus');
      const after = header(req, 'x-ms-continuation');
      const page = await jobsOf(ctx).list({
        ...(type && { type }),
        ...(status && { status }),
        ...(after && { afterJobId: Buffer.from(after, 'base64url').toString('utf8') }),
        limit: pageSize(header(req, 'x-ms-max-item-count')),
      });
      const next = page.next === undefined ? {} : { 'x-ms-continuation': Buffer.from(page.next).toString('base64url') };
      sendJson(res, 200, page.jobs.map(jobJson), next);
    },
  },
  {
    method: 'PUT',
    path: '/jobs/v2/{id}',
    operation: write,
    async handle({ ctx, req, res, params, log }) {
      const body = parseJson(await readBody(req, ctx.config.http.maxBodyBytes));
      const view = await jobsOf(ctx).create(params.id!, body);
      log.info({ jobId: view.job.jobId, type: view.job.type }, 'job created');
      sendJson(res, 200, jobJson(view));
    },
  },
  {
    method: 'GET',
    path: '/jobs/v2/{id}',
    operation: read,
    async handle({ ctx, res, params }) {
      sendJson(res, 200, jobJson(await jobsOf(ctx).get(params.id!)));
    },
  },
  {
    method: 'POST',
    path: '/jobs/v2/{id}/cancel',
    operation: write,
    async handle({ ctx, res, params }) {
      sendJson(res, 200, jobJson(await jobsOf(ctx).cancel(params.id!)));
    },
  },
];
