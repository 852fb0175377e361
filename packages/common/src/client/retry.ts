/**
 * Retry policies: exponential back-off with jitter (IoT Hub's recommended policy and the
 * official SDKs' default), no retry, or any object implementing RetryPolicy.
 */
import { isTransient } from './client-errors.js';

export interface RetryPolicy {
  /**
   * The delay before retry number `attempt` (1 for the first retry) after `err`, in ms; undefined
   * to give up and raise `err`.
   */
  nextDelayMs(attempt: number, err: unknown): number | undefined;
}

export interface BackoffOptions {
  /** Delay before the first retry (default 100 ms). */
  minDelayMs?: number;
  /** Longest delay (default 10 000 ms). */
  maxDelayMs?: number;
  /** Retries before giving up (default 10; Infinity to never give up on transient errors). */
  maxAttempts?: number;
  /** Fraction of each delay that is random, 0..1 (default 0.2: a delay is 80%..100% of the nominal one). */
  jitter?: number;
  /** Source of randomness in [0, 1); tests pass their own. */
  random?: () => number;
}

export const DEFAULT_BACKOFF: Readonly<Required<Omit<BackoffOptions, 'random'>>> = Object.freeze({
  minDelayMs: 100,
  maxDelayMs: 10_000,
  maxAttempts: 10,
  jitter: 0.2,
});

const KEYS = new Set(['minDelayMs', 'maxDelayMs', 'maxAttempts', 'jitter', 'random']);

/** Nominal delay min * 2^(attempt-1), capped at max, less up to `jitter` of it at random. Retries transient errors only. */
export class ExponentialBackoffWithJitter implements RetryPolicy {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxAttempts: number;
  readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    for (const key of Object.keys(options)) {
      if (!KEYS.has(key)) throw new TypeError(`Unknown retry option "${key}"; known: ${[...KEYS].join(', ')}`);
    }
    const o = { ...DEFAULT_BACKOFF, ...options };
    if (!(o.minDelayMs >= 0) || !(o.maxDelayMs >= o.minDelayMs)) {
      throw new TypeError(
        `Retry delays must satisfy 0 <= minDelayMs <= maxDelayMs; got ${o.minDelayMs}, ${o.maxDelayMs}`,
      );
    }
    if (!(o.maxAttempts >= 0)) throw new TypeError(`maxAttempts must be 0 or more; got ${o.maxAttempts}`);
    if (!(o.jitter >= 0 && o.jitter <= 1)) throw new TypeError(`jitter must be from 0 to 1; got ${o.jitter}`);
    this.minDelayMs = o.minDelayMs;
    this.maxDelayMs = o.maxDelayMs;
    this.maxAttempts = o.maxAttempts;
    this.jitter = o.jitter;
    this.random = options.random ?? Math.random;
  }

  nextDelayMs(attempt: number, err: unknown): number | undefined {
    if (attempt > this.maxAttempts || !isTransient(err)) return undefined;
    const nominal = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** Math.min(attempt - 1, 52));
    return Math.round(nominal * (1 - this.jitter * this.random()));
  }
}

/** Never retries: the first error is raised. */
export const noRetry: RetryPolicy = Object.freeze({ nextDelayMs: () => undefined });

/** Waiting, injectable so tests can run a fake clock. */
export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `op` until it succeeds or the policy gives up; `shouldStop` ends the loop early (client closed). */
export async function withRetry<T>(
  op: () => Promise<T>,
  policy: RetryPolicy,
  sleep: Sleep = realSleep,
  shouldStop: () => boolean = () => false,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const delay = shouldStop() ? undefined : policy.nextDelayMs(attempt, err);
      if (delay === undefined) throw err;
      await sleep(delay);
    }
  }
}
