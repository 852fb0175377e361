/**
 * A link on which the hub sends leased messages (device C2D, service feedback): honours the peer's
 * credit, sends unsettled transfers tagged with the 16 bytes of the lock token, and maps the
 * peer's outcome back to the engine. rhea applies dispositions over first..last ranges and ignores
 * those for deliveries already settled (official-sdk-wire.md G.3, G.5), so each delivery is
 * settled at most once here.
 */
import type { Logger } from 'pino';
import type { AmqpError, EventContext, Message, Sender } from 'rhea';
import type { Operation } from '../../auth/types.js';
import type { LinkHandler } from './link-handler.js';
import { tagKey, uuidToBytes } from './message-codec.js';
import { senderCapacity } from './rhea-internals.js';

/** accepted = complete, released (or modified) = abandon, rejected = reject/dead-letter, none = settled without outcome. */
export type Outcome = 'accepted' | 'released' | 'rejected' | 'none';

export abstract class OutgoingLink<T extends { lockToken: string }> implements LinkHandler {
  abstract readonly requires: Operation | undefined;
  /** tag (hex) -> lock token of every transfer not yet settled by the peer. */
  private readonly unsettled = new Map<string, string>();
  private handedToRhea = 0;
  private pumping = false;
  private again = false;
  /** False after a short lease, until the engine signals that something may be available again. */
  private maybeMore = true;
  /** Counts availability signals, so a signal that lands during a lease is not lost. */
  private signals = 0;
  protected closed = false;

  constructor(
    protected readonly sender: Sender,
    protected readonly logger: Logger,
    private readonly maxUnsettled: number,
    private readonly leaseBatch: number,
  ) {}

  /** Lease up to n items; [] when there is nothing. */
  protected abstract lease(n: number): Promise<T[]>;
  protected abstract encode(item: T): Message;
  protected abstract settle(lockToken: string, outcome: Outcome): Promise<void>;
  /** Give back items leased but not settled (link gone, or leased after it went). */
  protected abstract giveBack(lockTokens: string[]): Promise<void>;
  /** Called once when the link is gone, after the leases are back. */
  protected onGone(): void {}

  protected start(): void {
    this.sender.on('sendable', () => this.wake());
    this.sender.on('accepted', (ctx: EventContext) => this.onOutcome(ctx, 'accepted'));
    // rhea reports modified as released too (treat_modified_as_released).
    this.sender.on('released', (ctx: EventContext) => this.onOutcome(ctx, 'released'));
    this.sender.on('rejected', (ctx: EventContext) => this.onOutcome(ctx, 'rejected'));
    // Emitted after the outcome events: anything still unsettled here was settled without an outcome.
    this.sender.on('settled', (ctx: EventContext) => this.onOutcome(ctx, 'none'));
    this.wake();
  }

  get unsettledCount(): number {
    return this.unsettled.size;
  }

  /** The engine says something may be available: lease and send while the peer has credit. */
  signal(): void {
    this.signals++;
    this.maybeMore = true;
    this.wake();
  }

  /** Credit or room changed: send what may be waiting, without re-asking an empty queue. */
  wake(): void {
    void this.pump();
  }

  async detached(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const tokens = [...this.unsettled.values()];
    this.unsettled.clear();
    try {
      if (tokens.length > 0) await this.giveBack(tokens);
    } catch (err) {
      this.logger.warn({ err }, 'could not return unsettled messages');
    }
    this.onGone();
  }

  async close(error: AmqpError): Promise<void> {
    if (this.closed) return;
    this.sender.close(error);
    await this.detached();
  }

  private onOutcome(ctx: EventContext, outcome: Outcome): void {
    const delivery = ctx.delivery;
    if (!delivery || this.closed) return;
    const key = tagKey(delivery.tag);
    const lockToken = this.unsettled.get(key);
    if (lockToken === undefined) return;
    this.unsettled.delete(key);
    // Receiver-settle-mode second: the peer waits for us to settle.
    if (!delivery.remote_settled) delivery.update(true);
    this.settle(lockToken, outcome).then(
      () => this.wake(),
      (err: unknown) => {
        this.logger.debug({ err, outcome }, 'settle failed');
        this.wake();
      },
    );
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        await this.fill();
      } while (this.again && !this.closed);
    } catch (err) {
      this.logger.error({ err }, 'delivering on link failed');
    } finally {
      this.pumping = false;
    }
  }

  private async fill(): Promise<void> {
    for (;;) {
      if (this.closed || !this.sender.is_open() || !this.maybeMore) return;
      const room = Math.min(senderCapacity(this.sender, this.handedToRhea), this.maxUnsettled - this.unsettled.size);
      if (room <= 0) return;
      const want = Math.min(room, this.leaseBatch);
      const signalsBefore = this.signals;
      const items = await this.lease(want);
      // A short lease means the queue is empty for now; only a new signal makes asking worthwhile.
      if (items.length < want && this.signals === signalsBefore) this.maybeMore = false;
      if (items.length === 0) return;
      const notSent: string[] = [];
      for (const item of items) {
        // The link may have gone, or rhea's session buffer filled, while the lease was in flight.
        if (this.closed || !this.sender.is_open() || !this.sender.sendable()) {
          notSent.push(item.lockToken);
          continue;
        }
        const tag = uuidToBytes(item.lockToken);
        this.unsettled.set(tagKey(tag), item.lockToken);
        this.sender.send(this.encode(item), tag);
        this.handedToRhea++;
      }
      if (notSent.length > 0) {
        await this.giveBack(notSent);
        return;
      }
      if (items.length < want) return;
    }
  }
}
