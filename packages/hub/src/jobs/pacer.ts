/**
 * Paces a node's job work to jobs.maxDevicesPerSecond, shared by the jobs it runs: take(n) waits
 * until n more devices fit in the rate. No timer while idle.
 */
import type { Clock } from '../clock.js';

export class Pacer {
  private nextAt = 0;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
  ) {}

  take(n: number): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(this.nextAt, now);
    this.nextAt = at + (n * 1000) / this.perSecond;
    if (at <= now) return Promise.resolve();
    return new Promise((resolve) => this.clock.setTimer(resolve, at - now));
  }
}
