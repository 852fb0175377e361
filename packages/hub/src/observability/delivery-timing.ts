/**
 * How long a message waits: from its enqueue (its commit) to its first delivery to a gateway,
 * and from each delivery to the device's settle. The first is read off the message itself (its
 * enqueued time, kept in milliseconds); the second needs the moment of the delivery, kept here by
 * lock token until the settle (or release) comes, so this costs a map entry per message in
 * flight, nothing per message at a scrape. Deliveries and settles seen by this node only.
 */
import type { Delivery } from '@ferry/common';
import type { FastHistogram } from './histogram.js';

/** Past this many deliveries awaiting a settle, the oldest (locks long expired) are forgotten. */
const MAX_TRACKED = 100_000;
/** What is forgotten then: deliveries older than this, more than any lock lasts by default. */
const FORGET_AFTER_MS = 10 * 60_000;

export class DeliveryTiming {
  /** Lock token -> ms when delivered, in delivery order (so the oldest come first). */
  private readonly deliveredAt = new Map<string, number>();

  constructor(
    private readonly delivery: FastHistogram,
    private readonly settle: FastHistogram,
  ) {}

  /** A batch handed to a gateway to write, at `now` (ms). */
  delivered(batch: readonly Delivery[], now: number): void {
    if (batch.length === 0) return;
    if (this.deliveredAt.size >= MAX_TRACKED) this.forget(now);
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]!;
      // A redelivery's wait since the enqueue is mostly the first delivery's lock: not a queue wait.
      if (!d.redelivered) this.delivery.record(Math.max(0, now - d.enqueuedTimeUtc) / 1000);
      this.deliveredAt.set(d.lockToken, now);
    }
  }

  /** A device settles the message of `lockToken` (complete, abandon, reject) at `now`. */
  settling(lockToken: string, now: number): void {
    const at = this.deliveredAt.get(lockToken);
    if (at === undefined) return;
    this.deliveredAt.delete(lockToken);
    this.settle.record(Math.max(0, now - at) / 1000);
  }

  /** Messages given back unsettled (a connection or link dropped). */
  released(lockTokens: readonly string[]): void {
    for (const t of lockTokens) this.deliveredAt.delete(t);
  }

  /** Deliveries still waiting for a settle (for tests). */
  get tracked(): number {
    return this.deliveredAt.size;
  }

  private forget(now: number): void {
    for (const [token, at] of this.deliveredAt) {
      if (now - at < FORGET_AFTER_MS) break;
      this.deliveredAt.delete(token);
    }
  }
}
