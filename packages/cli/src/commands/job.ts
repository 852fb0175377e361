/**
 * `ferry job create|show|list|cancel` and `ferry message send-many --query` (docs/jobs.md): jobs
 * over the devices a twin query's WHERE clause selects, through @ferry/service's JobClient.
 * create and send-many follow the job to its end, printing its progress on standard error.
 */
import type { Job, JobClient, JobSchedule } from '@ferry/service';
import { parse, str, usageError } from '../args.js';
import { serviceClient } from '../clients.js';
import { explained } from '../hub-errors.js';
import { CliError, type Io } from '../io.js';
import { table } from '../table.js';
import { type HubTarget, resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { parseSendRequest, SEND_OPTIONS } from './message-args.js';

const HINTS = {
  IotHubUnauthorizedAccess:
    'Jobs need RegistryWrite to create or cancel and RegistryRead to read: use iothubowner or registryReadWrite.',
  NotFound: '`ferry job list` shows the jobs.',
};
const FINAL = new Set(['completed', 'failed', 'cancelled']);
const POLL_MS = 1000;

const SCHEDULE_OPTIONS = {
  query: { type: 'string' },
  start: { type: 'string' },
  'max-time': { type: 'string' },
  'no-wait': { type: 'boolean' },
} as const;

async function withJobs<T>(target: HubTarget, op: (jobs: JobClient) => Promise<T>): Promise<T> {
  const service = serviceClient(target);
  try {
    return await explained(() => op(service.jobs), target, HINTS);
  } finally {
    await service.close();
  }
}

function schedule(values: Record<string, unknown>, usage: string): { query: string; when: JobSchedule } {
  const query = str(values.query as string | undefined);
  if (!query) throw usageError('a job needs --query, a WHERE clause such as "tags.site = \'plant-3\'"', usage);
  const when: JobSchedule = {};
  const start = str(values.start as string | undefined);
  if (start !== undefined) {
    if (Number.isNaN(Date.parse(start))) throw usageError(`--start takes an ISO 8601 date-time; got "${start}"`, usage);
    when.startTime = new Date(start);
  }
  const max = str(values['max-time'] as string | undefined);
  if (max !== undefined) {
    if (!/^\d+$/.test(max) || Number(max) === 0)
      throw usageError(`--max-time takes whole seconds; got "${max}"`, usage);
    when.maxExecutionTimeInSeconds = Number(max);
  }
  return { query, when };
}

function progress(job: Job): string {
  const s = job.deviceJobStatistics;
  return `${job.jobId}: ${job.status}, ${s.succeededCount}/${s.deviceCount} succeeded, ${s.failedCount} failed, ${s.pendingCount} pending`;
}

/** Prints the job's progress while it changes, until it ends; exit 1 when devices failed or the job did. */
async function follow(target: HubTarget, created: Job, io: Io): Promise<number> {
  let job = created;
  let last = '';
  for (;;) {
    const line = progress(job);
    if (line !== last) io.err(line);
    last = line;
    if (FINAL.has(job.status)) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
    job = await withJobs(target, (j) => j.getJob(created.jobId));
  }
  io.out(JSON.stringify(job, null, 2));
  if (job.deviceJobStatistics.failedCount > 0)
    io.err(`Some devices failed: \`npx ferry job show ${job.jobId} --devices\` says which and why.`);
  return job.status === 'completed' && job.deviceJobStatistics.failedCount === 0 ? 0 : 1;
}

async function finish(target: HubTarget, job: Job, values: Record<string, unknown>, io: Io): Promise<number> {
  if (values['no-wait'] === true) {
    io.out(JSON.stringify(job, null, 2));
    return 0;
  }
  return follow(target, job, io);
}

/** `ferry message send-many [body] --query COND [send options]`: a C2D job, each device its own copy. */
export async function sendMany(args: string[], io: Io): Promise<number> {
  const usage = USAGE.message;
  const { wait: _wait, ...sendOptions } = SEND_OPTIONS;
  const options = { ...sendOptions, ...SCHEDULE_OPTIONS, 'job-id': { type: 'string' } } as const;
  const { values, positionals } = parse(args, options, usage, 1);
  const { query, when } = schedule(values, usage);
  const { request } = await parseSendRequest(values, positionals[0], io);
  const target = await resolveTarget(values, io);
  const jobId = str(values['job-id']) ?? `send-many-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const { expiry, ...message } = request;
  const job = await withJobs(target, (j) =>
    j.scheduleCloudToDeviceMessage(
      jobId,
      query,
      { ...message, ...(expiry !== undefined && { expiry: Date.parse(expiry) }) },
      when,
    ),
  );
  return finish(target, job, values, io);
}

function jsonArg(text: string | undefined, flag: string): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // said below
  }
  throw usageError(`${flag} takes a JSON object, e.g. '{"rate": 5}'`, USAGE.job);
}

async function create(args: string[], io: Io): Promise<number> {
  const options = {
    ...TARGET_OPTIONS,
    ...SCHEDULE_OPTIONS,
    method: { type: 'string' },
    payload: { type: 'string' },
    'response-timeout': { type: 'string' },
    tags: { type: 'string' },
    desired: { type: 'string' },
  } as const;
  const { values, positionals } = parse(args, options, USAGE.job, 1);
  const jobId = positionals[0];
  if (!jobId) throw usageError('job create needs a job id', USAGE.job);
  const { query, when } = schedule(values, USAGE.job);
  const method = str(values.method);
  const twin = values.tags !== undefined || values.desired !== undefined;
  if (Boolean(method) === twin)
    throw usageError('job create needs --method NAME, or --tags and/or --desired', USAGE.job);
  const target = await resolveTarget(values, io);
  const job = await withJobs(target, (j) => {
    if (method) {
      let payload: unknown = null;
      const text = str(values.payload);
      try {
        payload = text === undefined ? null : JSON.parse(text);
      } catch {
        throw new CliError('--payload must be JSON', 2);
      }
      const timeout = str(values['response-timeout']);
      const params = { methodName: method, payload, ...(timeout && { responseTimeoutInSeconds: Number(timeout) }) };
      return j.scheduleDeviceMethod(jobId, query, params, when);
    }
    const desired = jsonArg(str(values.desired), '--desired');
    const patch = { tags: jsonArg(str(values.tags), '--tags'), properties: { desired } };
    return j.scheduleTwinUpdate(jobId, query, patch, when);
  });
  return finish(target, job, values, io);
}

async function show(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...TARGET_OPTIONS, devices: { type: 'boolean' } }, USAGE.job, 1);
  const jobId = positionals[0];
  if (!jobId) throw usageError('job show needs a job id', USAGE.job);
  const target = await resolveTarget(values, io);
  await withJobs(target, async (j) => {
    io.out(JSON.stringify(await j.getJob(jobId), null, 2));
    if (values.devices !== true) return;
    const rows: string[][] = [];
    for await (const page of j.deviceResults(jobId, { pageSize: 1000 })) {
      for (const d of page) {
        const what = d.error ? `${d.error.code} (${d.error.errorCode})` : d.outcome ? JSON.stringify(d.outcome) : '';
        rows.push([d.deviceId, d.status, what]);
      }
    }
    io.out(table(['device', 'status', 'outcome or error'], rows));
  });
  return 0;
}

async function list(args: string[], io: Io): Promise<number> {
  const options = { ...TARGET_OPTIONS, type: { type: 'string' }, status: { type: 'string' } } as const;
  const { values } = parse(args, options, USAGE.job, 0);
  const target = await resolveTarget(values, io);
  const rows: string[][] = [];
  await withJobs(target, async (j) => {
    const filter = {
      type: str(values.type) as Job['type'] | undefined,
      status: str(values.status) as Job['status'] | undefined,
    };
    for await (const page of j.listJobs({
      ...(filter.type && { type: filter.type }),
      ...(filter.status && { status: filter.status }),
    })) {
      for (const job of page) {
        const s = job.deviceJobStatistics;
        rows.push([
          job.jobId,
          job.type,
          job.status,
          `${s.succeededCount}/${s.deviceCount}`,
          String(s.failedCount),
          job.createdTime,
        ]);
      }
    }
  });
  io.out(rows.length ? table(['job', 'type', 'status', 'succeeded', 'failed', 'created'], rows) : 'No jobs.');
  return 0;
}

async function cancel(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, TARGET_OPTIONS, USAGE.job, 1);
  const jobId = positionals[0];
  if (!jobId) throw usageError('job cancel needs a job id', USAGE.job);
  const target = await resolveTarget(values, io);
  const job = await withJobs(target, (j) => j.cancelJob(jobId));
  io.out(progress(job));
  return 0;
}

export async function job(action: string | undefined, args: string[], io: Io): Promise<number> {
  switch (action) {
    case 'create':
      return create(args, io);
    case 'show':
      return show(args, io);
    case 'list':
      return list(args, io);
    case 'cancel':
      return cancel(args, io);
    case undefined:
    case '--help':
    case '-h':
      io.out(USAGE.job);
      return action === undefined ? 2 : 0;
    default:
      throw usageError(`unknown command \`ferry job ${action}\``, USAGE.job);
  }
}
