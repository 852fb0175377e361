/** What a load process that sends tallies: acknowledgements, refusals, its time and CPU. */
import { type CpuMark, cpuMark, cpuPercent } from '../kit/measure.js';

export interface SendResult {
  t0: bigint;
  tSent: bigint;
  accepted: number;
  errors: number;
  firstError: string | undefined;
  /** CPU of this process meanwhile, % of one core. */
  cpu: number;
}

export class SendTally {
  readonly t0 = process.hrtime.bigint();
  private readonly cpu: CpuMark = cpuMark();
  private accepted = 0;
  private errors = 0;
  private firstError: string | undefined;

  /** One send answered: acknowledged (no error) or refused. */
  settled(err?: unknown): void {
    if (err === undefined) {
      this.accepted++;
      return;
    }
    this.errors++;
    this.firstError ??= err instanceof Error ? err.message : String(err);
  }

  result(): SendResult {
    const { t0, accepted, errors, firstError } = this;
    return { t0, tSent: process.hrtime.bigint(), accepted, errors, firstError, cpu: cpuPercent(this.cpu) };
  }
}
