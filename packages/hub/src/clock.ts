/** Injected time. Production uses systemClock; tests use ManualClock and move time by hand. */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** ms since the epoch */
  now(): number;
  /** Runs fn after ms; real timers are unref()'d so they never hold the process open. */
  setTimer(fn: () => void, ms: number): TimerHandle;
}

/** Timers this long or longer are rounded up (timerDelay). */
const COARSE_FROM_MS = 1024;
/** Node's longest delay: a longer one fires after 1 ms (with a TimeoutOverflowWarning). */
const TIMEOUT_MAX_MS = 2 ** 31 - 1;

/**
 * The delay a real timer is set for: `ms`, or, from about a second on, `ms` rounded up to 1/64 of
 * its power of two (at most 1.6 % late, never early), and never past Node's longest (2^31 - 1).
 * Node keeps one list per distinct delay, and deletes the list of an unref()'d timer cleared before
 * it fires only when the delay comes due: a keep-alive of 1.5 x a client's keepalive, an AMQP idle
 * timeout, a lock's remaining time each made a list that stayed for as long as that delay (hours,
 * days), and the fault campaign's fuzz (random values in those fields) left 20,485 empty lists on
 * the heap. Rounded, at most 64 delays per power of two exist (about 1,350 from 1 s to the longest,
 * 24.8 days) whatever clients ask for.
 */
export function timerDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  if (ms < COARSE_FROM_MS) return ms;
  if (ms >= TIMEOUT_MAX_MS) return TIMEOUT_MAX_MS;
  const step = 2 ** (Math.floor(Math.log2(ms)) - 6);
  // Rounded up past Node's longest, a delay would fire at once: callers that cap at it (a keep-alive
  // watching a far deadline) would re-arm every millisecond.
  return Math.min(Math.ceil(ms / step) * step, TIMEOUT_MAX_MS);
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, timerDelay(ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that moves only when told to. Timers fire, in deadline order, inside advance(). */
export class ManualClock implements Clock {
  private current: number;
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.push({ at: this.current + Math.max(0, ms), fn, id });
    return { cancel: () => (this.timers = this.timers.filter((t) => t.id !== id)) };
  }

  /** Move time forward by ms, firing due timers in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t.id !== due.id);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = target;
  }
}
