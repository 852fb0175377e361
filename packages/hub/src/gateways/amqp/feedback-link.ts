/**
 * The service's receiver link from `/messages/serviceBound/feedback` (c2d-semantics.md 3.3-3.5,
 * official-sdk-wire.md D.1). Each feedback batch is one unsettled transfer. Receivers on any
 * connection compete: each leases from the same hub-wide queue, so a batch goes to one of them.
 */
import type { FeedbackBatch } from '@ferry/common';
import type { Logger } from 'pino';
import type { Message, Sender } from 'rhea';
import type { Operation } from '../../auth/types.js';
import type { C2dEngine } from '../../engine/types.js';
import { encodeFeedback } from './message-codec.js';
import { type Outcome, OutgoingLink } from './outgoing-link.js';

const FEEDBACK_MAX_UNSETTLED = 16;

interface FeedbackDeps {
  engine: C2dEngine;
  hubName: string;
  logger: Logger;
}

export class FeedbackLink extends OutgoingLink<FeedbackBatch> {
  readonly requires: Operation = { permission: 'ServiceConnect' };
  private unsubscribe: (() => void) | undefined;

  constructor(
    sender: Sender,
    private readonly deps: FeedbackDeps,
  ) {
    super(sender, deps.logger, FEEDBACK_MAX_UNSETTLED, FEEDBACK_MAX_UNSETTLED);
    this.unsubscribe = deps.engine.onFeedbackAvailable(() => this.signal());
    this.start();
  }

  protected async lease(n: number): Promise<FeedbackBatch[]> {
    const out: FeedbackBatch[] = [];
    while (out.length < n) {
      const batch = await this.deps.engine.receiveFeedback();
      if (!batch) break;
      out.push(batch);
    }
    return out;
  }

  protected encode(batch: FeedbackBatch): Message {
    return encodeFeedback(batch, this.deps.hubName);
  }

  protected async settle(lockToken: string, outcome: Outcome): Promise<void> {
    const { engine } = this.deps;
    if (outcome === 'accepted') await engine.completeFeedback(lockToken);
    else if (outcome === 'released') await engine.abandonFeedback(lockToken);
    else if (outcome === 'rejected') await engine.rejectFeedback(lockToken);
    // Settled without an outcome: leave it to lock expiry, as for a lost link.
  }

  protected async giveBack(lockTokens: string[]): Promise<void> {
    // There is no "release" for feedback; abandoning makes the batch available to other receivers now.
    await Promise.allSettled(lockTokens.map((t) => this.deps.engine.abandonFeedback(t)));
  }

  protected override onGone(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
