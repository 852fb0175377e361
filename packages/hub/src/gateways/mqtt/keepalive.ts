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

/**
 * One timer per connection, not one per packet: traffic only records the time, and the timer,
 * when it fires, re-arms itself for whatever silence is left.
 */
export class KeepAliveWatchdog {
  private last: number;
  private timer: TimerHandle | undefined;

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

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimer(() => {
      const silent = this.clock.now() - this.last;
      if (silent >= this.timeoutMs) {
        this.timer = undefined;
        this.onTimeout();
      } else {
        this.arm(this.timeoutMs - silent);
      }
    }, ms);
  }
}
