/**
 * What the kill rounds sent, what the hub answered, and what devices received. A message's body is
 * its id, so a delivery is matched to its send whatever the protocol carried it.
 */
export type Answer = 'pending' | 'acknowledged' | 'refused' | 'unanswered';

export interface LedgerCounts {
  sent: number;
  acknowledged: number;
  refused: number;
  /** The connection died before an answer (the kill): either outcome is allowed. */
  unanswered: number;
  /** Distinct campaign messages received by a device. */
  delivered: number;
  /** Acknowledged, never delivered: a broken promise. */
  lost: number;
  /** Delivered more than once (at-least-once redelivery after a kill; counted, allowed). */
  duplicated: number;
  /** Refused with an error, yet stored and delivered: the answer lied. */
  refusedButStored: number;
  /** Delivered again after the hub answered its completion (HTTPS completes are answered). */
  redeliveredAfterComplete: number;
}

export class Ledger {
  private readonly answers = new Map<string, Answer>();
  private readonly deliveries = new Map<string, number>();
  private readonly completed = new Set<string>();
  private redeliveredAfterComplete = 0;

  sent(id: string): void {
    this.answers.set(id, 'pending');
  }

  answer(id: string, answer: Exclude<Answer, 'pending'>): void {
    this.answers.set(id, answer);
  }

  /** A device received `id`; bodies that are not campaign ids are ignored. */
  delivered(id: string): void {
    if (!this.answers.has(id)) return;
    if (this.completed.has(id)) this.redeliveredAfterComplete++;
    this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1);
  }

  /** The hub answered a completion of `id`. */
  completeAnswered(id: string): void {
    this.completed.add(id);
  }

  counts(): LedgerCounts {
    const c: LedgerCounts = {
      sent: this.answers.size,
      acknowledged: 0,
      refused: 0,
      unanswered: 0,
      delivered: this.deliveries.size,
      lost: 0,
      duplicated: 0,
      refusedButStored: 0,
      redeliveredAfterComplete: this.redeliveredAfterComplete,
    };
    for (const [id, answer] of this.answers) {
      const got = this.deliveries.get(id) ?? 0;
      if (answer === 'acknowledged') c.acknowledged++;
      else if (answer === 'refused') c.refused++;
      else c.unanswered++;
      if (answer === 'acknowledged' && got === 0) c.lost++;
      if (answer === 'refused' && got > 0) c.refusedButStored++;
      if (got > 1) c.duplicated++;
    }
    return c;
  }
}
