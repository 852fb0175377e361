/**
 * Runs one claimed job to its end: selects the devices its condition matches (resumable: the
 * ledger rows and the last id selected are stored page by page), then acts on the pending
 * devices in paced batches, again and again while some were refused for a reason that may pass
 * (a full queue) and the job's time lasts. The claim is renewed on a timer; when a renewal fails
 * (the job was cancelled, or another node took it after this one stalled) the run stops at the
 * next batch. A node that dies leaves its claim to expire, and another resumes the job.
 */
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import { actionFor, type DeviceAction, errorOf, type JobTargets, timedOut } from './actions.js';
import type { Pacer } from './pacer.js';
import type { JobRecord, JobStore } from './types.js';

const SELECT_PAGE = 1000;

export interface RunnerSettings {
  nodeId: string;
  leaseMs: number;
  retryIntervalMs: number;
  batchSize: number;
}

export class JobRun {
  private lost = false;
  private renewal: TimerHandle | undefined;
  /** Resolves when the run is abandoned: every wait (pacing, a retry's pause) ends with it. */
  private readonly abandoned: Promise<void>;
  private stopWaiting!: () => void;

  constructor(
    private readonly job: JobRecord,
    private readonly store: JobStore,
    private readonly targets: JobTargets,
    private readonly clock: Clock,
    private readonly pacer: Pacer,
    private readonly settings: RunnerSettings,
    private readonly logger: Logger,
  ) {
    this.abandoned = new Promise((resolve) => {
      this.stopWaiting = resolve;
    });
  }

  get jobId(): string {
    return this.job.jobId;
  }

  /** Stops at the next batch (hub stopping, job cancelled); the claim is left to expire, so another node resumes. */
  abandon(): void {
    this.lost = true;
    this.stopWaiting();
  }

  async run(): Promise<void> {
    const { job } = this;
    this.renewLater();
    try {
      if (!job.selected) await this.select();
      const deadline = job.startTime + job.maxExecutionTimeInSeconds * 1000;
      const act = actionFor(job, this.targets);
      while (!this.lost) {
        const retry = await this.pass(act, deadline);
        if (!retry || this.clock.now() >= deadline) break;
        await this.sleep(Math.min(this.settings.retryIntervalMs, deadline - this.clock.now()));
      }
      if (this.lost) return;
      const now = this.clock.now();
      await this.store.closeJobDevices(job.jobId, 'failed', timedOut(job), now);
      await this.finish({ status: 'completed' });
    } catch (err) {
      if (this.lost) return;
      this.logger.error({ err, jobId: job.jobId }, 'job failed');
      await this.finish({ status: 'failed', failureReason: errorOf(err).description }).catch(() => undefined);
    } finally {
      this.renewal?.cancel();
    }
  }

  /** One pass over the pending devices; true when some stay pending for a retry. */
  private async pass(act: DeviceAction, deadline: number): Promise<boolean> {
    let after = '';
    let retry = false;
    while (!this.lost && this.clock.now() < deadline) {
      const ids = await this.store.pendingJobDevices(this.job.jobId, after, this.settings.batchSize);
      if (ids.length === 0) return retry;
      after = ids[ids.length - 1]!;
      // A cancel on this node abandons the run at once; one on another node is seen at the next renewal.
      await Promise.race([this.pacer.take(ids.length), this.abandoned]);
      if (this.lost) return false;
      const results = await act(ids);
      if (results.length) await this.store.recordJobDevices(this.job.jobId, results, this.clock.now());
      if (results.some((r) => r.status === 'pending')) retry = true;
    }
    return retry;
  }

  /** Ledger rows for every matching device, page by page, resuming after the last stored. */
  private async select(): Promise<void> {
    const { job } = this;
    let after = job.selectedThrough;
    for (;;) {
      const ids = await this.targets.twins.selectDevices(job.queryCondition, after, SELECT_PAGE);
      if (this.lost) return;
      if (ids.length) {
        after = ids[ids.length - 1]!;
        await this.store.addJobDevices(job.jobId, ids, after, this.clock.now());
      }
      if (ids.length < SELECT_PAGE) break;
    }
    if (!(await this.store.updateJob(job.jobId, { selected: true }, this.settings.nodeId))) this.lost = true;
  }

  private async finish(change: { status: 'completed' | 'failed'; failureReason?: string }): Promise<void> {
    const done = { ...change, endTime: this.clock.now(), leaseOwner: null, leaseUntil: null };
    await this.store.updateJob(this.job.jobId, done, this.settings.nodeId);
  }

  private renewLater(): void {
    const every = Math.max(1, Math.floor(this.settings.leaseMs / 3));
    this.renewal = this.clock.setTimer(() => {
      const until = this.clock.now() + this.settings.leaseMs;
      this.store.updateJob(this.job.jobId, { leaseUntil: until }, this.settings.nodeId).then(
        (held) => {
          if (!held) {
            this.logger.info({ jobId: this.job.jobId }, 'job cancelled or claimed elsewhere; this node stops it');
            this.abandon();
          } else if (!this.lost) this.renewLater();
        },
        (err) => {
          this.logger.warn({ err, jobId: this.job.jobId }, 'renewing the job claim failed; retrying');
          if (!this.lost) this.renewLater();
        },
      );
    }, every);
  }

  private async sleep(ms: number): Promise<void> {
    let timer: TimerHandle | undefined;
    const slept = new Promise<void>((resolve) => {
      timer = this.clock.setTimer(resolve, ms);
    });
    await Promise.race([slept, this.abandoned]);
    timer?.cancel();
  }
}
