/**
 * Which handler serves an attached link, by its address: the connection (connection.ts) has
 * already authorized the link for what the address needs; here it is accepted with the handler of
 * its kind, or refused when the address is not served (or names a feature this hub runs without).
 */
import type { AmqpError, Receiver, Sender } from 'rhea';
import type { LinkAddress } from './addresses.js';
import type { CbsNode } from './cbs.js';
import type { Claims } from './claims.js';
import type { ConnectionDeps } from './connection.js';
import { DeviceEventsLink, openEventsLink } from './device-events-link.js';
import { DeviceLink } from './device-link.js';
import { amqpError, NOT_IMPLEMENTED } from './errors.js';
import type { EventHubsLinks } from './event-hubs/index.js';
import type { AmqpFaultInjector } from './fault-injection.js';
import { FeedbackLink } from './feedback-link.js';
import type { LinkHandler } from './link-handler.js';
import { MethodChannels } from './method-link.js';
import { ServiceSendLink } from './service-sender.js';
import { TwinChannels } from './twin-link.js';

/** What the routes need of their connection. */
export interface LinkRouteContext {
  deps: ConnectionDeps;
  claims: Claims;
  cbs: CbsNode;
  eventHubs: EventHubsLinks;
  faults: AmqpFaultInjector;
  accept(link: Sender | Receiver, handler: LinkHandler): void;
  refuse(link: Sender | Receiver, error: AmqpError): void;
}

export class LinkRoutes {
  /** Made at the first twin or methods link of the connection. */
  private twins: TwinChannels | undefined;
  private methods: MethodChannels | undefined;

  constructor(private readonly r: LinkRouteContext) {}

  /** An authorized receiving link of the peer's, by address. */
  openSender(sender: Sender, address: LinkAddress): void {
    const { ctx, logger } = this.r.deps;
    switch (address.kind) {
      case 'cbs':
        this.r.accept(sender, this.r.cbs.serveReplies(sender));
        return;
      case 'feedback':
        this.r.accept(sender, new FeedbackLink(sender, { engine: ctx.engine, hubName: ctx.hubName, logger }));
        return;
      case 'device-bound':
        this.openDeviceLink(sender, address.deviceId);
        return;
      case 'eh-management':
        this.r.eventHubs.openManagement(sender);
        return;
      case 'eh-partition':
        this.r.eventHubs.openPartition(sender, address);
        return;
      case 'iothub-events':
        this.r.eventHubs.redirect(sender, address);
        return;
      case 'device-twin':
        this.openTwinLink(sender, address.deviceId);
        return;
      case 'device-methods':
        this.openMethodLink(sender, address.deviceId);
        return;
      case 'file-notifications':
        this.r.refuse(sender, {
          condition: NOT_IMPLEMENTED,
          description: 'File upload notifications are not implemented',
        });
        return;
      default:
        this.r.refuse(
          sender,
          amqpError('NotFound', `No node to receive from at "${describe(sender.source?.address)}"`),
        );
        return;
    }
  }

  /** An authorized sending link of the peer's, by address. */
  openReceiver(receiver: Receiver, address: LinkAddress): void {
    const { ctx, logger } = this.r.deps;
    switch (address.kind) {
      case 'cbs':
        this.r.accept(receiver, this.r.cbs.serveRequests(receiver));
        return;
      case 'service-send':
        this.r.accept(receiver, new ServiceSendLink(receiver, { engine: ctx.engine, claims: this.r.claims, logger }));
        return;
      case 'device-twin':
        this.openTwinLink(receiver, address.deviceId);
        return;
      case 'device-methods':
        this.openMethodLink(receiver, address.deviceId);
        return;
      case 'eh-management':
        this.r.eventHubs.openManagement(receiver);
        return;
      case 'iothub-events':
        this.r.eventHubs.redirect(receiver, address);
        return;
      case 'device-events': {
        const link = openEventsLink(receiver, address.deviceId, this.r.claims, {
          ...this.r.deps,
          faults: this.r.faults,
        });
        if (link instanceof DeviceEventsLink) this.r.accept(receiver, link);
        else this.r.refuse(receiver, link);
        return;
      }
      default:
        this.r.refuse(receiver, amqpError('NotFound', `No node to send to at "${describe(receiver.target?.address)}"`));
        return;
    }
  }

  /** A device's twin link (twin-link.ts): we send answers and notifications, or receive requests. */
  private openTwinLink(link: Sender | Receiver, deviceId: string): void {
    const twins = this.r.deps.ctx.twins;
    if (!twins) {
      this.r.refuse(link, { condition: NOT_IMPLEMENTED, description: 'This hub serves no twins' });
      return;
    }
    this.twins ??= new TwinChannels(twins, this.r.deps.logger);
    const t = this.twins;
    this.r.accept(
      link,
      link.is_sender() ? t.replies(link as Sender, deviceId) : t.requests(link as Receiver, deviceId),
    );
  }

  /** A device's methods link (method-link.ts): we send requests, or receive answers. */
  private openMethodLink(link: Sender | Receiver, deviceId: string): void {
    const methods = this.r.deps.ctx.methods;
    if (!methods) {
      this.r.refuse(link, { condition: NOT_IMPLEMENTED, description: 'This hub serves no direct methods' });
      return;
    }
    this.methods ??= new MethodChannels(methods, this.r.deps.logger);
    const m = this.methods;
    this.r.accept(
      link,
      link.is_sender() ? m.requests(link as Sender, deviceId) : m.answers(link as Receiver, deviceId),
    );
  }

  private openDeviceLink(sender: Sender, deviceId: string): void {
    const { ctx, logger } = this.r.deps;
    const link = new DeviceLink(sender, deviceId, {
      engine: ctx.engine,
      registry: ctx.registry,
      logger: logger.child({ deviceId }),
      onGone: (l) => this.r.deps.devices.gone(l),
    });
    this.r.accept(sender, link);
    this.r.deps.devices.claim(link);
    link.begin().catch((err: unknown) => logger.error({ err, deviceId }, 'device link failed to start'));
  }
}

function describe(address: unknown): string {
  return typeof address === 'string' ? address.slice(0, 200) : '';
}
