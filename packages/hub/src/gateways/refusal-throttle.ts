/**
 * Refusal lines hub-wide, by device and cause, across connections. A device reconnecting in a
 * loop with a refused credential wrote one line per attempt (19,122 lines in 6 minutes from seven
 * devices): each attempt is a new connection, which the per-connection limit (refusals.ts) never
 * sees twice.
 *
 * The first FIRST_LOGGED refusals of a (device, cause) are logged as before; the rest are counted,
 * and at the end of each window one line per (device, cause) says how many there were: "device X
 * refused N times for cause Y in the last 60 s". A (device, cause) with no refusal for a whole
 * window is forgotten, so its next refusal is logged again. A storm of made-up device ids is
 * bounded too: at most MAX_LINES individual refusal lines per window hub-wide, MAX_KEYS
 * (device, cause) pairs remembered (the others counted together), and MAX_SUMMARIES summary lines
 * per window (the rest in one line).
 */
import type { Clock, TimerHandle } from '../clock.js';

export const FIRST_LOGGED = 3;
export const WINDOW_MS = 60_000;
const MAX_LINES = 200;
const MAX_KEYS = 10_000;
const MAX_SUMMARIES = 50;

/** The part of a logger the throttle writes its summaries with; a pino Logger is one. */
export interface SummaryLogger {
  info(fields: object, msg: string): void;
}

interface Tally {
  device: string;
  cause: string;
  /** Refusals logged one by one since the pair was last forgotten. */
  logged: number;
  /** Refusals in this window, and how many of them were not logged. */
  inWindow: number;
  unlogged: number;
}

export class RefusalThrottle {
  private readonly tallies = new Map<string, Tally>();
  /** Refusals of pairs beyond MAX_KEYS, this window. */
  private overflow = 0;
  private linesThisWindow = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly logger: SummaryLogger,
    private readonly clock: Clock,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /**
   * A refusal of `device` (a device id, or the remote address when none was given) for `cause`
   * (a stable word: an IoT Hub error name, an AMQP condition, a CONNACK reason). True when it is
   * to be logged as a line of its own; false when it is only counted for the summary.
   */
  admit(device: string, cause: string): boolean {
    this.timer ??= this.clock.setTimer(() => this.endWindow(), this.windowMs);
    const key = `${cause}\u0000${device}`;
    let tally = this.tallies.get(key);
    if (!tally) {
      if (this.tallies.size >= MAX_KEYS) {
        this.overflow++;
        return false;
      }
      tally = { device, cause, logged: 0, inWindow: 0, unlogged: 0 };
      this.tallies.set(key, tally);
    }
    tally.inWindow++;
    if (tally.logged < FIRST_LOGGED && this.linesThisWindow < MAX_LINES) {
      tally.logged++;
      this.linesThisWindow++;
      return true;
    }
    tally.unlogged++;
    return false;
  }

  /** The summaries of the window so far, now (at stop: no count is lost). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.summarise();
  }

  private endWindow(): void {
    this.timer = undefined;
    this.summarise();
    for (const [key, tally] of this.tallies) {
      if (tally.inWindow === 0) this.tallies.delete(key);
      tally.inWindow = 0;
    }
    if (this.tallies.size > 0) this.timer = this.clock.setTimer(() => this.endWindow(), this.windowMs);
  }

  private summarise(): void {
    const seconds = Math.round(this.windowMs / 1000);
    const counted = [...this.tallies.values()].filter((t) => t.unlogged > 0).sort((a, b) => b.unlogged - a.unlogged);
    for (const t of counted.slice(0, MAX_SUMMARIES)) {
      this.logger.info(
        { deviceId: t.device, cause: t.cause, refused: t.inWindow, unlogged: t.unlogged, windowS: seconds },
        `device ${t.device} refused ${t.inWindow} times for ${t.cause} in the last ${seconds} s`,
      );
    }
    let rest = this.overflow;
    for (const t of counted.slice(MAX_SUMMARIES)) rest += t.unlogged;
    if (rest > 0) {
      this.logger.info(
        { unlogged: rest, windowS: seconds },
        `${rest} more refusals of other devices in the last ${seconds} s, not logged one by one`,
      );
    }
    for (const t of counted) t.unlogged = 0;
    this.overflow = 0;
    this.linesThisWindow = 0;
  }
}
