/**
 * Every wait in a unit test has a deadline (docs/testing.md): what a helper awaits (a packet, a
 * close, an attach, a reply) rejects after `ms` of real time with an error naming it, so a
 * regression fails the test that waited, by name, instead of hanging the run. Real time on
 * purpose: the hub under test runs on a ManualClock, which only moves when a test moves it.
 */

/** Long enough for anything in-process on a busy two-core machine; short beside --test-timeout. */
export const WAIT_MS = 20_000;

/**
 * `promise`, or a rejection naming `what` once `ms` have passed without it settling (`what` may
 * be a function, to describe the state at the deadline).
 */
export function within<T>(promise: Promise<T>, what: string | (() => string), ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Waits until `cond` holds, checking after each turn of the event loop (no sleeps), and fails
 * naming `what` once `ms` of real time have passed.
 */
export async function eventually(
  cond: () => boolean | Promise<boolean>,
  what: string | (() => string),
  ms = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
