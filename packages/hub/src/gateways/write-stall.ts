/**
 * A peer that stops reading must not hold the hub's memory and leases for good: once a write
 * leaves the stream above its high-water mark, the stream must drain within the configured time
 * (connections.writeStallTimeoutMs), or `onStall` runs (the gateway closes the connection, and its
 * leased messages go back to their queues).
 */
import type { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../clock.js';

export class WriteStallWatch {
  private timer: TimerHandle | undefined;

  constructor(
    private readonly stream: Duplex,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly onStall: () => void,
  ) {
    stream.on('drain', () => this.stop());
  }

  /** After each write, with what write() returned. */
  wrote(ok: boolean): void {
    if (ok || this.timer) return;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      if (this.stream.writableNeedDrain && !this.stream.destroyed) this.onStall();
    }, this.timeoutMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
