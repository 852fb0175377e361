/**
 * `ferry feedback`: what `az iot hub monitor-feedback` shows, over HTTPS. Takes one feedback
 * batch from the hub-wide feedback queue, prints its records and completes it (so the hub drops
 * it) unless --no-complete.
 */
import { type Parsed, parse, str } from '../args.js';
import type { Io } from '../io.js';
import { poll } from '../poll.js';
import { ServiceC2d } from '../service-c2d.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { USAGE } from '../usage.js';
import { parseWait } from './message-args.js';
import { formatFeedback } from './message-print.js';

const OPTIONS = {
  ...TARGET_OPTIONS,
  wait: { type: 'string' },
  json: { type: 'boolean' },
  'no-complete': { type: 'boolean' },
} as const;

export interface FeedbackArgs {
  values: Parsed['values'];
  waitMs: number;
  json: boolean;
  complete: boolean;
}

export function parseFeedbackArgs(args: string[]): FeedbackArgs {
  const { values } = parse(args, OPTIONS, USAGE.feedback, 0);
  return {
    values,
    waitMs: parseWait(str(values.wait)),
    json: values.json === true,
    complete: values['no-complete'] !== true,
  };
}

export async function feedback(args: string[], io: Io): Promise<number> {
  const { values, waitMs, json, complete } = parseFeedbackArgs(args);
  const service = new ServiceC2d(await resolveTarget(values, io));
  const batch = await poll(() => service.receiveFeedback(), {
    waitMs,
    onWaiting: (left) => io.err(`Waiting for feedback (${Math.ceil(left / 1000)} s left, Ctrl+C to stop)...`),
  });
  if (!batch) {
    if (json) io.out('null');
    else {
      io.out(
        waitMs > 0
          ? `No feedback within ${waitMs / 1000} s.`
          : 'No feedback waiting. The hub batches feedback (feedback.batchDelayMs, 15 s by default); wait for it with `npx ferry feedback --wait 30`.',
      );
    }
    return 0;
  }
  if (complete) await service.completeFeedback(batch.lockToken);
  const note = complete
    ? 'Completed the batch: the hub will not offer it again.'
    : `Left the batch locked (lock token ${batch.lockToken}); the hub offers it again when the lock expires (feedback.lockDurationMs, 60 s by default).`;
  if (json) {
    io.out(JSON.stringify({ ...batch, completed: complete }, null, 2));
    if (!complete) io.err(note);
    return 0;
  }
  io.out(formatFeedback(batch));
  io.out(note);
  return 0;
}
