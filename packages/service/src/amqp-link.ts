/**
 * The service's one AMQP connection, opened on first use and again after it is lost, with its
 * SAS token renewed on `$cbs` before it expires.
 */
import type { FerryError } from '@ferry/common';
import { AmqpConnection, type AmqpTarget } from '@ferry/common/client';

export class ServiceConnection {
  private current: AmqpConnection | undefined;
  private opening: Promise<AmqpConnection> | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly lostHandlers = new Set<(c: AmqpConnection, err: FerryError) => void>();

  constructor(
    private readonly target: AmqpTarget,
    private readonly renewInMs: () => number | undefined,
  ) {}

  /** Called when a connection dies; the next get() opens a new one. */
  onLost(handler: (c: AmqpConnection, err: FerryError) => void): () => void {
    this.lostHandlers.add(handler);
    return () => this.lostHandlers.delete(handler);
  }

  /** The open connection, opening one when needed. Rejects with a FerryError. */
  get(): Promise<AmqpConnection> {
    if (this.current?.isOpen) return Promise.resolve(this.current);
    this.opening ??= AmqpConnection.open(this.target)
      .then(async (c) => {
        if (this.closed) {
          await c.close();
          throw new Error('closed');
        }
        this.current = c;
        c.onClosed((err) => {
          if (this.current === c) this.current = undefined;
          clearTimeout(this.renewTimer);
          for (const h of this.lostHandlers) h(c, err);
        });
        this.scheduleRenewal(c);
        return c;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  private scheduleRenewal(c: AmqpConnection): void {
    const inMs = this.renewInMs();
    if (inMs === undefined) return;
    this.renewTimer = setTimeout(() => {
      c.putToken().then(
        () => this.scheduleRenewal(c),
        () => void c.close(),
      );
    }, inMs);
    this.renewTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.renewTimer);
    const c = this.current;
    this.current = undefined;
    await c?.close();
  }
}
