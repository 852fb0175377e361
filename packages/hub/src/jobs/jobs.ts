/**
 * The jobs domain: IoT Hub's jobs (a direct method or a twin patch for every device a twin query
 * selects) and Ferry's C2D job, durable in the store with a per-device ledger. Every node polls
 * for due jobs and claims one at a time per free slot (jobs.maxConcurrent); a claim is a lease
 * that the running node renews, so a job runs on one node at a time and resumes elsewhere when
 * its node dies. Protocol-free: gateways/http maps the REST API to it (docs/jobs.md).
 */
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import type { JobsConfig } from '../config/types.js';
import type { Query } from '../twins/index.js';
import type { JobTargets } from './actions.js';
import { type DeviceJobPage, queryDeviceJobs } from './device-query.js';
import { Pacer } from './pacer.js';
import { JobRun } from './runner.js';
import type { DeviceJobCounts, JobListQuery, JobRecord, JobStore } from './types.js';
import { checkJobId, parseJobRequest } from './validate.js';

const STOP_GRACE_MS = 2000;
/** How often a node deletes the jobs past jobs.retentionMs, and how many at a time. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 100;

export interface JobsOptions extends JobTargets {
  store: JobStore;
  clock: Clock;
  nodeId: string;
  config: JobsConfig;
  logger: Logger;
}

/** A job and its devices' counts by status. */
export interface JobView {
  job: JobRecord;
  devices: DeviceJobCounts;
}

export class Jobs {
  private readonly runs = new Map<JobRun, Promise<void>>();
  private readonly pacer: Pacer;
  private timer: TimerHandle | undefined;
  private polling = false;
  private prunedAt = Number.NEGATIVE_INFINITY;
  private stopped = true;

  constructor(private readonly opts: JobsOptions) {
    this.pacer = new Pacer(opts.clock, opts.config.maxDevicesPerSecond);
  }

  /** PUT /jobs/v2/{id}: stored as queued; DeviceAlreadyExists-like conflicts are ArgumentInvalid. */
  async create(jobId: string, body: unknown): Promise<JobView> {
    const job = parseJobRequest(jobId, body, this.opts.clock.now(), (c) => this.opts.twins.checkCondition(c));
    if (!(await this.opts.store.insertJob(job)))
      throw new FerryError('ArgumentInvalid', `a job with id ${jobId} exists`);
    this.pollSoon();
    return { job, devices: { pending: 0, completed: 0, failed: 0, cancelled: 0 } };
  }

  async get(jobId: string): Promise<JobView> {
    checkJobId(jobId);
    const job = await this.opts.store.getJob(jobId);
    if (!job) throw new FerryError('NotFound', `no job with id ${jobId}`);
    return { job, devices: await this.opts.store.countJobDevices(jobId) };
  }

  /** A page of jobs by id; `next` is the last id when more may follow. */
  async list(query: JobListQuery): Promise<{ jobs: JobView[]; next: string | undefined }> {
    const jobs = await this.opts.store.listJobs({ ...query, limit: query.limit + 1 });
    const page = jobs.slice(0, query.limit);
    const views = await Promise.all(
      page.map(async (job) => ({ job, devices: await this.opts.store.countJobDevices(job.jobId) })),
    );
    return { jobs: views, next: jobs.length > query.limit ? page[page.length - 1]?.jobId : undefined };
  }

  /** POST /jobs/v2/{id}/cancel: a job not yet finished is cancelled with its pending devices; a finished one is answered as it is. */
  async cancel(jobId: string): Promise<JobView> {
    const now = this.opts.clock.now();
    await this.get(jobId);
    const change = { status: 'cancelled' as const, endTime: now, leaseOwner: null, leaseUntil: null };
    for (const run of this.runs.keys()) if (run.jobId === jobId) run.abandon();
    if (await this.opts.store.updateJob(jobId, change, null)) {
      await this.opts.store.closeJobDevices(jobId, 'cancelled', null, now);
    }
    return this.get(jobId);
  }

  /** A page of a job's devices and their results (SELECT * FROM devices.jobs WHERE devices.jobs.jobId = ...). */
  deviceJobs(query: Query, limit: number, afterDeviceId: string): Promise<DeviceJobPage> {
    return queryDeviceJobs(this.opts.store, query, limit, afterDeviceId);
  }

  start(): void {
    this.stopped = false;
    this.pollSoon();
  }

  /** Stops claiming; running jobs stop at their next batch and keep their claim until it expires. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    for (const run of this.runs.keys()) run.abandon();
    // A run stops at its next batch; one waiting on a device (a method call) is not waited for
    // long: real time, whatever the clock, as it bounds the hub's stop.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_GRACE_MS);
    });
    await Promise.race([Promise.all(this.runs.values()), grace]);
    clearTimeout(timer);
  }

  private pollSoon(delay = 0): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.opts.clock.setTimer(() => void this.poll(), delay);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      await this.prune();
      while (!this.stopped && this.runs.size < this.opts.config.maxConcurrent) {
        const { leaseMs } = this.opts.config;
        const job = await this.opts.store.claimJob(this.opts.nodeId, this.opts.clock.now(), leaseMs);
        if (!job) break;
        this.launch(job);
      }
    } catch (err) {
      this.opts.logger.warn({ err }, 'looking for due jobs failed; trying again');
    } finally {
      this.polling = false;
      this.pollSoon(this.opts.config.pollIntervalMs);
    }
  }

  /** Finished jobs past jobs.retentionMs go, with their devices' results (at most once a minute). */
  private async prune(): Promise<void> {
    const { retentionMs } = this.opts.config;
    const now = this.opts.clock.now();
    if (retentionMs === 0 || now - this.prunedAt < PRUNE_EVERY_MS) return;
    this.prunedAt = now;
    while ((await this.opts.store.deleteFinishedJobs(now - retentionMs, PRUNE_BATCH)) === PRUNE_BATCH) {}
  }

  private launch(job: JobRecord): void {
    const { config, nodeId } = this.opts;
    const settings = {
      nodeId,
      leaseMs: config.leaseMs,
      retryIntervalMs: config.retryIntervalMs,
      batchSize: Math.max(1, Math.min(100, config.maxDevicesPerSecond)),
    };
    const logger = this.opts.logger.child({ jobId: job.jobId });
    const run = new JobRun(job, this.opts.store, this.opts, this.opts.clock, this.pacer, settings, logger);
    logger.info({ type: job.type }, 'job running');
    const done = run.run().finally(() => {
      this.runs.delete(run);
      this.pollSoon();
    });
    this.runs.set(run, done);
  }
}
