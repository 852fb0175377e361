/** Keep-alive: the hub drops a connection that has been silent for 1.5 x its keep-alive. */
import type { Clock, TimerHandle } from '../../clock.js';

/** IoT Hub's cap: 1.5 x keep-alive, at most 1767 s (c2d-semantics.md 8.1). */
const MAX_TIMEOUT_S = 1767;

/**
 * The silence after which the connection is dropped. Keep-alive 0 ("none") gets IoT Hub's
 * longest, so a client that goes silent (or stops reading) is still dropped one day.
 */
export function keepAliveTimeoutMs(keepaliveSeconds: number): number {
  if (keepaliveSeconds <= 0) return MAX_TIMEOUT_S * 1000;
  return Math.min(keepaliveSeconds * 1.5, MAX_TIMEOUT_S) * 1000;
}

/** setTimeout overflows past this; a farther deadline is checked early and re-armed. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * One timer per connection, not one per packet: traffic only records the time, and the timer,
 * when it fires, re-arms itself for whatever silence is left. It also keeps the connection's one
 * fixed deadline (the SAS token's expiry), so a connection has one timer, not two.
 */
export class KeepAliveWatchdog {
  private last: number;
  private timer: TimerHandle | undefined;
  private deadline = Number.POSITIVE_INFINITY;
  private onDeadline: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    private readonly onTimeout: () => void,
  ) {
    this.last = clock.now();
    this.arm(timeoutMs);
  }

  /** Any packet from the client counts (MQTT-3.1.2-24). */
  touch(): void {
    this.last = this.clock.now();
  }

  /**
   * Also calls `onDeadline` once the clock reaches `at` (ms since the epoch), unless the keep-alive
   * timed out first; whichever comes first ends the watch.
   */
  closeAt(at: number, onDeadline: () => void): void {
    if (this.timer === undefined) return; // stopped, or already fired
    this.deadline = at;
    this.onDeadline = onDeadline;
    this.timer?.cancel();
    this.arm(this.timeoutMs - (this.clock.now() - this.last));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Fires after `silenceLeft` ms, or at the deadline when that comes first. */
  private arm(silenceLeft: number): void {
    const ms = Math.min(silenceLeft, this.deadline - this.clock.now(), MAX_DELAY_MS);
    this.timer = this.clock.setTimer(() => this.fired(), ms);
  }

  private fired(): void {
    const now = this.clock.now();
    if (now >= this.deadline) {
      this.timer = undefined;
      this.onDeadline?.();
      return;
    }
    const silent = now - this.last;
    if (silent >= this.timeoutMs) {
      this.timer = undefined;
      this.onTimeout();
    } else {
      this.arm(this.timeoutMs - silent);
    }
  }
}
