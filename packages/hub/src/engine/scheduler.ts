/**
 * The one scheduler: no timer per message. It asks the store for the earliest deadline (TTL, lock
 * expiry, feedback batch due, feedback lock or TTL) at start and after each batch it handled, sets
 * a single timer, and between those only moves the timer earlier when a commit reports an earlier
 * deadline (consider). Deadlines that went away leave the timer early, which costs one batch that
 * finds nothing. Because deadlines live in the store, a restarted hub picks them up on start().
 */
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';

/** How long to wait before retrying after the store failed. */
const RETRY_MS = 1000;

export class Scheduler {
  private timer: TimerHandle | undefined;
  private armedAt: number | undefined;
  private running = false;
  private runAgain = false;
  private stopped = true;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  /** A due tick is queued with setImmediate. */
  private dueNow = false;
  /** Earliest deadline reported by commits while a refresh or batch was running (folded in after). */
  private hinted = Number.POSITIVE_INFINITY;

  /**
   * @param nextDeadline the store's earliest deadline, null when none
   * @param work handles one batch of what is due; resolves true when more is due at once
   */
  constructor(
    private readonly clock: Clock,
    private readonly nextDeadline: () => Promise<number | null>,
    private readonly work: () => Promise<boolean>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.stopped = false;
    // Whatever became due while the hub was down is handled at once.
    this.refresh();
  }

  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  /** A commit created a deadline at `at` (null: none): arm earlier if needed, without asking the store. */
  consider(at: number | null): void {
    if (at === null || this.stopped) return;
    if (this.refreshing || this.running) {
      if (at < this.hinted) this.hinted = at;
      return;
    }
    if (this.armedAt === undefined || at < this.armedAt) this.arm(at);
  }

  /** Something changed in the store: re-read the earliest deadline (coalesced). */
  refresh(): void {
    if (this.stopped) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          const at = await this.nextDeadline();
          this.armWithHints(at ?? Number.POSITIVE_INFINITY);
        } catch (err) {
          this.logger.error({ err }, 'scheduler could not read the next deadline');
          this.armWithHints(this.clock.now() + RETRY_MS);
        }
      } while (this.refreshAgain && !this.stopped);
      this.refreshing = undefined;
    })();
  }

  /** Resolves when no refresh or batch is running. */
  async idle(): Promise<void> {
    while (!this.quiet) {
      await this.refreshing;
      await new Promise((r) => setImmediate(r));
    }
  }

  get quiet(): boolean {
    return !this.refreshing && !this.running && !this.dueNow;
  }

  /** Arms at `at` or at an earlier deadline a commit reported meanwhile; cancels when neither. */
  private armWithHints(at: number): void {
    const when = Math.min(at, this.hinted);
    this.hinted = Number.POSITIVE_INFINITY;
    if (when === Number.POSITIVE_INFINITY) this.cancel();
    else this.arm(when);
  }

  private arm(at: number): void {
    if (this.stopped) return;
    if (this.armedAt === at && this.timer) return;
    this.cancel();
    this.armedAt = at;
    const delay = at - this.clock.now();
    if (delay <= 0) {
      // Already due: run now rather than wait for a clock tick (a manual clock only moves when told).
      this.dueNow = true;
      const t = setImmediate(() => void this.tick());
      this.timer = {
        cancel: () => {
          clearImmediate(t);
          this.dueNow = false;
        },
      };
    } else {
      this.timer = this.clock.setTimer(() => void this.tick(), delay);
    }
  }

  private cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.armedAt = undefined;
  }

  private async tick(): Promise<void> {
    this.dueNow = false;
    this.timer = undefined;
    this.armedAt = undefined;
    if (this.stopped) return;
    if (this.running) {
      this.runAgain = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.runAgain = false;
        while ((await this.work()) && !this.stopped) {}
      } while (this.runAgain && !this.stopped);
    } catch (err) {
      this.logger.error({ err }, 'scheduler batch failed; retrying');
      this.running = false;
      this.armWithHints(this.clock.now() + RETRY_MS);
      return;
    }
    this.running = false;
    this.refresh();
  }
}
