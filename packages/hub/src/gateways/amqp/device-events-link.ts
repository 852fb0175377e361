/**
 * A device's sender link to `/devices/{id}/messages/events` (telemetry). Each transfer (one
 * message, or a batch unpacked into its messages) goes to the telemetry domain and is settled
 * `accepted` only once appended durably; otherwise `rejected` with IoT Hub's error (a message over
 * 256 KB gets amqp:link:message-size-exceeded, a malformed one amqp:... ArgumentInvalid). A bad
 * transfer leaves the link and the connection's other links open.
 */
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { AmqpError, EventContext, Message, Receiver, Delivery as RheaDelivery } from 'rhea';
import type { Operation } from '../../auth/types.js';
import type { Telemetry } from '../../telemetry/telemetry.js';
import type { TelemetryMessage, TelemetrySender } from '../../telemetry/types.js';
import type { GatewayContext } from '../context.js';
import { requestedFault } from '../fault-injection.js';
import type { Claims } from './claims.js';
import { CreditWindow } from './credit-window.js';
import { NOT_IMPLEMENTED, TRANSFER_LIMIT_EXCEEDED, toAmqpError } from './errors.js';
import type { AmqpFaultInjector } from './fault-injection.js';
import type { LinkHandler } from './link-handler.js';
import { BATCH_FORMAT, decodeTelemetry, decodeTelemetryBatch } from './telemetry-codec.js';

/** Transfers one telemetry link may have in flight (granted credit + awaiting commit). */
export const EVENTS_CREDIT = 200;

interface EventsLinkDeps {
  telemetry: Telemetry;
  claims: Claims;
  sender: TelemetrySender;
  logger: Logger;
  faults: AmqpFaultInjector;
}

/** The link's handler, or the refusal when this hub serves no telemetry. */
export function openEventsLink(
  receiver: Receiver,
  deviceId: string,
  claims: Claims,
  deps: { ctx: GatewayContext; logger: Logger; faults: AmqpFaultInjector },
): DeviceEventsLink | AmqpError {
  const telemetry = deps.ctx.telemetry;
  if (!telemetry) return { condition: NOT_IMPLEMENTED, description: 'Device-to-cloud telemetry is not served here' };
  const auth = claims.byCertificate(deviceId) ? 'x509' : 'sas';
  const sender = { deviceId, auth, scope: 'device' } as const;
  const { faults } = deps;
  return new DeviceEventsLink(receiver, { telemetry, claims, sender, faults, logger: deps.logger.child({ deviceId }) });
}

export class DeviceEventsLink implements LinkHandler {
  readonly requires: Operation;
  private readonly credit: CreditWindow;
  private closed = false;

  constructor(
    private readonly receiver: Receiver,
    private readonly deps: EventsLinkDeps,
  ) {
    this.requires = { permission: 'DeviceConnect', deviceId: deps.sender.deviceId };
    this.credit = new CreditWindow(receiver, EVENTS_CREDIT);
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
      void this.close({ condition: TRANSFER_LIMIT_EXCEEDED, description: 'Transfer without link credit' });
      return;
    }
    let messages: TelemetryMessage[];
    try {
      // A token can expire between the timer check and this transfer.
      if (!this.deps.claims.can(this.requires)) {
        throw new FerryError('IotHubUnauthorizedAccess', 'No valid token for this device on this connection');
      }
      const format = (ctx as EventContext & { format?: number }).format ?? 0;
      if (format === BATCH_FORMAT) messages = decodeTelemetryBatch(ctx.message as unknown as Buffer);
      else if (format === 0 && ctx.message) messages = [decodeTelemetry(ctx.message as Message)];
      else throw new FerryError('ArgumentInvalid', `Message format ${format} is not supported`);
    } catch (err) {
      this.settle(delivery, err);
      return;
    }
    this.deps.telemetry.send(this.deps.sender, messages, (err) => {
      this.settle(delivery, err);
      const fault = err === undefined ? requestedFault(messages) : undefined;
      if (fault) this.deps.faults.request(fault, this.deps.sender.deviceId, this.receiver);
    });
  }

  private settle(delivery: RheaDelivery, err: unknown): void {
    this.credit.settled();
    if (this.closed) return;
    if (err === undefined) {
      delivery.accept();
    } else {
      const error = toAmqpError(err);
      if (error.condition === 'amqp:internal-error') this.deps.logger.error({ err }, 'telemetry append failed');
      else this.deps.logger.info({ condition: error.condition, reason: error.description }, 'telemetry rejected');
      delivery.reject(error);
    }
    this.credit.refill();
  }
}
