/**
 * The service's sender link to `/messages/devicebound` (official-sdk-wire.md D.1, F "Service
 * Client"). We grant enough credit for many sends in flight; the transfers that arrive in one read
 * go to the engine in one sendMany, which group-commits with everything else in flight. Each
 * transfer is settled Accepted only after its enqueue committed, otherwise Rejected with an error
 * condition (the SDK reads released or an error-less rejected as success, G.4).
 */
import { FerryError, type OutgoingMessage } from '@ferry/common';
import type { Logger } from 'pino';
import type { AmqpError, EventContext, Receiver, Delivery as RheaDelivery } from 'rhea';
import type { Operation } from '../../auth/types.js';
import type { C2dEngine, SendItem } from '../../engine/types.js';
import type { Claims } from './claims.js';
import { CreditWindow } from './credit-window.js';
import { TRANSFER_LIMIT_EXCEEDED, toAmqpError } from './errors.js';
import type { LinkHandler } from './link-handler.js';
import { decodeServiceMessage } from './message-codec.js';

/** Sends one link may have in flight (granted credit + awaiting commit). Below rhea's 2048-delivery session window. */
export const SERVICE_SEND_CREDIT = 1000;

interface ServiceSendDeps {
  engine: C2dEngine;
  claims: Claims;
  logger: Logger;
}

/** A transfer awaiting its enqueue: handed to sendMany as it is (no copy per message). */
interface Pending extends SendItem {
  delivery: RheaDelivery;
}

const SERVICE_CONNECT: Operation = { permission: 'ServiceConnect' };

export class ServiceSendLink implements LinkHandler {
  readonly requires = SERVICE_CONNECT;
  private readonly credit: CreditWindow;
  private batch: Pending[] = [];
  private closed = false;

  constructor(
    private readonly receiver: Receiver,
    private readonly deps: ServiceSendDeps,
  ) {
    this.credit = new CreditWindow(receiver, SERVICE_SEND_CREDIT);
    receiver.on('message', (ctx: EventContext) => this.onTransfer(ctx));
    this.credit.refill();
  }

  async detached(): Promise<void> {
    this.closed = true;
  }

  async close(error: AmqpError): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.receiver.close(error);
  }

  private onTransfer(ctx: EventContext): void {
    const delivery = ctx.delivery;
    if (this.closed || !delivery) return;
    if (!this.credit.take()) {
      this.deps.logger.warn('transfer without link credit on /messages/devicebound');
      void this.close({ condition: TRANSFER_LIMIT_EXCEEDED, description: 'Transfer without link credit' });
      return;
    }
    let decoded: { deviceId: string; message: OutgoingMessage };
    try {
      if (!ctx.message) throw new FerryError('ArgumentInvalid', 'Only AMQP messages (format 0) can be sent');
      decoded = decodeServiceMessage(ctx.message);
      // A token can expire between the timer check and this transfer.
      if (!this.deps.claims.can(SERVICE_CONNECT)) {
        throw new FerryError('IotHubUnauthorizedAccess', 'No valid token with ServiceConnect on this connection');
      }
    } catch (err) {
      this.settle(delivery, err);
      return;
    }
    this.batch.push({ delivery, deviceId: decoded.deviceId, message: decoded.message, origin: undefined });
    // Transfers of one read arrive synchronously: gather them, then hand them over together.
    if (this.batch.length === 1) queueMicrotask(() => this.flush());
  }

  private flush(): void {
    const items = this.batch;
    this.batch = [];
    if (items.length === 0) return;
    const policy = this.deps.claims.policyThatCan(SERVICE_CONNECT);
    if (policy !== undefined) {
      const origin = { policy };
      for (const item of items) item.origin = origin;
    }
    this.deps.engine
      .sendMany(items)
      .then(
        (results) => {
          items.forEach((item, i) => {
            this.settle(item.delivery, results[i] instanceof Error ? results[i] : undefined);
          });
        },
        (err: unknown) => {
          for (const item of items) this.settle(item.delivery, err);
        },
      )
      .catch((err: unknown) => this.deps.logger.error({ err }, 'settling service sends failed'));
  }

  private settle(delivery: RheaDelivery, err: unknown): void {
    this.credit.settled();
    if (this.closed) return;
    if (err === undefined) {
      delivery.accept();
    } else {
      const error = toAmqpError(err);
      if (error.condition === 'amqp:internal-error') this.deps.logger.error({ err }, 'service send failed');
      else this.deps.logger.debug({ condition: error.condition, reason: error.description }, 'service send rejected');
      delivery.reject(error);
    }
    this.credit.refill();
  }
}
