/** What a load process that sends tallies: acknowledgements, refusals, its time and CPU. */
import { type CpuMark, cpuMark, cpuPercent } from '../kit/measure.js';
import type { SendPart } from './merge.js';

export type { SendPart, SendResult } from './merge.js';

export class SendTally {
  readonly t0 = process.hrtime.bigint();
  private readonly cpu: CpuMark = cpuMark();
  accepted = 0;
  private errors = 0;
  private firstError: string | undefined;

  /** One send answered: acknowledged (no error) or refused. */
  settled(err?: unknown): void {
    if (err === undefined) {
      this.accepted++;
      return;
    }
    this.failed(err, 1);
  }

  /** `count` sends refused for the same reason (a connection lost with them in flight). */
  failed(err: unknown, count: number): void {
    this.errors += count;
    this.firstError ??= err instanceof Error ? err.message : String(err);
  }

  /** This process's part, to be merged with its role's other processes (merge.ts mergeSends). */
  result(): SendPart {
    const { t0, accepted, errors, firstError } = this;
    return { t0, tSent: process.hrtime.bigint(), accepted, errors, firstError, cpu: cpuPercent(this.cpu) };
  }
}
