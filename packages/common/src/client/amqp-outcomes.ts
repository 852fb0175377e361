/**
 * The hub's answer to each transfer on one sender link: `accepted` resolves its promise;
 * `rejected` rejects it with the hub's error (MessageTooLarge, DeviceNotFound, ...), `released`
 * or `modified` with a transient ServiceUnavailable, and a detach with the link's error.
 */
import type { Delivery, EventContext, Message, Sender } from 'rhea';
import { FerryError } from '../errors.js';
import { errorFromAmqp } from './client-errors.js';

interface Pending {
  resolve(): void;
  reject(err: FerryError): void;
}

export class SenderOutcomes {
  private readonly pending = new Map<Delivery, Pending>();
  private readonly sendable = new Set<() => void>();
  private failure: FerryError | undefined;

  constructor(private readonly sender: Sender) {
    sender.on('accepted', (ctx: EventContext) => this.settle(ctx.delivery));
    sender.on('rejected', (ctx: EventContext) => {
      const error = (ctx.delivery?.remote_state as { error?: { condition?: unknown; description?: unknown } })?.error;
      this.settle(
        ctx.delivery,
        errorFromAmqp(error ?? { condition: 'amqp:internal-error', description: 'Rejected without a reason' }),
      );
    });
    const notTaken = (ctx: EventContext) =>
      this.settle(ctx.delivery, new FerryError('ServiceUnavailable', 'The hub released the message; it was not taken'));
    sender.on('released', notTaken);
    sender.on('modified', notTaken);
    sender.on('sendable', () => this.wake());
    sender.on('sender_close', (ctx: EventContext) =>
      this.failAll(
        errorFromAmqp(
          (ctx.sender?.error as { condition?: unknown; description?: unknown } | undefined) ?? {
            condition: 'amqp:link:detach-forced',
            description: 'The hub closed the link',
          },
        ),
      ),
    );
  }

  /** Sends once the link has credit; resolves when the hub accepts. `format` marks `payload` as already encoded. */
  async send(payload: Message | Buffer, format?: number): Promise<void> {
    while (!this.sender.sendable()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => this.sendable.add(resolve));
    }
    if (this.failure) throw this.failure;
    const delivery =
      format === undefined
        ? this.sender.send(payload as Message)
        : this.sender.send(payload as never, undefined, format);
    return new Promise((resolve, reject) => this.pending.set(delivery, { resolve, reject }));
  }

  /** Every transfer waiting for an answer fails with `err`, and so does every later send (the link is gone). */
  failAll(err: FerryError): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.wake();
  }

  private wake(): void {
    for (const w of this.sendable) w();
    this.sendable.clear();
  }

  private settle(delivery: Delivery | undefined, err?: FerryError): void {
    const p = delivery && this.pending.get(delivery);
    if (!p) return;
    this.pending.delete(delivery);
    if (err) p.reject(err);
    else p.resolve();
  }
}
