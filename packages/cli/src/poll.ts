/** Asking the hub again every second until something arrives or the wait is over (`--wait`). */

const POLL_MS = 1000;
const NOTE_EVERY_MS = 5000;

export interface PollOptions {
  /** How long to keep asking; 0 asks once. */
  waitMs: number;
  /** Called when the first answer was empty, then every few seconds, with the time left. */
  onWaiting(leftMs: number): void;
}

// Not unref()'d: this timer is what the command is waiting for, and the process must stay up.
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function poll<T>(once: () => Promise<T | undefined>, opts: PollOptions): Promise<T | undefined> {
  const deadline = Date.now() + opts.waitMs;
  let nextNote = 0;
  for (;;) {
    const got = await once();
    if (got !== undefined) return got;
    const now = Date.now();
    const left = deadline - now;
    if (left <= 0) return undefined;
    if (now >= nextNote) {
      opts.onWaiting(left);
      nextNote = now + NOTE_EVERY_MS;
    }
    await sleep(Math.min(POLL_MS, left));
  }
}
