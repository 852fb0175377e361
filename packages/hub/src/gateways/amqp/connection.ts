/**
 * One AMQP connection: rhea (the codec and AMQP state machine) on one Duplex, plus the hub's
 * state for it: the claims of its tokens, and a handler per attached link. Every attach is first
 * authorized for what its address needs (authorizeThen), then routed by address; it is refused
 * (attach without terminus + detach with an error) when over the per-connection link cap, not
 * covered by a credential, or, only after that, not served.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import rhea, {
  type AmqpError,
  type Connection,
  type ConnectionOptions,
  type EventContext,
  type Receiver,
  type Sender,
  type ServerConnectionOptions,
} from 'rhea';
import type { Operation } from '../../auth/types.js';
import type { ClientCertificate } from '../../auth/x509.js';
import type { TimerHandle } from '../../clock.js';
import type { DeviceIdentity } from '../../registry/types.js';
import type { ConnectionInfo, GatewayContext } from '../context.js';
import { type CutOff, cutOffByChange } from '../device-change.js';
import { RefusalLog } from '../refusals.js';
import { type LinkAddress, linkAddressOf, linkRequirement, parseLinkAddress } from './addresses.js';
import { CbsNode } from './cbs.js';
import { Claims } from './claims.js';
import type { DeviceLink } from './device-link.js';
import {
  amqpError,
  CONNECTION_FORCED,
  DECODE_ERROR,
  FRAMING_ERROR,
  INVALID_FIELD,
  RESOURCE_LIMIT_EXCEEDED,
  toAmqpError,
} from './errors.js';
import { EventHubsLinks } from './event-hubs/index.js';
import { AmqpFaultInjector } from './fault-injection.js';
import { guardedSocket } from './guarded-socket.js';
import type { LinkHandler } from './link-handler.js';
import { LinkRoutes } from './link-routes.js';
import { acceptSocket, closeNow, holdAttach } from './rhea-internals.js';
import { AmqpDecodeError, AmqpInvalidFieldError } from './rhea-patches.js';
import { CbsMechanism, checkPlainUsername, ExternalMechanism, PlainMechanism } from './sasl.js';
import type { RheaSocketAdapter } from './socket-adapter.js';

/** Largest frame we accept (advertised in open); a peer announcing a bigger one is cut off. */
export const MAX_FRAME_SIZE = 256 * 1024;

/** How long a peer closed for bad input has to read our close before its socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

type Link = Sender | Receiver;

const CA_REMOVED: CutOff = {
  error: 'IotHubUnauthorizedAccess',
  reason: 'the CA certificate the device certificate chained to was deleted or is no longer verified',
};

/** A device link held while its certificate is checked, and the registry changes seen meanwhile. */
interface PendingCertificateCheck {
  deviceId: string;
  changed: boolean;
  identity: DeviceIdentity | undefined;
}

/** Gateway-wide: one receiving link per device; a new one replaces the old. */
export interface DeviceLinkDirectory {
  claim(link: DeviceLink): void;
  gone(link: DeviceLink): void;
}

export interface ConnectionDeps {
  ctx: GatewayContext;
  devices: DeviceLinkDirectory;
  logger: Logger;
  /** When set, the connection is over a cap: it is closed with this error as soon as it opens. */
  refuse?: AmqpError;
}

export class AmqpConnection {
  /** Resolves when the stream has closed and every lease of this connection is back. */
  readonly closed: Promise<void>;
  private readonly conn: Connection;
  private readonly links = new Map<Link, LinkHandler>();
  private readonly claims: Claims;
  private readonly cbs: CbsNode;
  private readonly eventHubs: EventHubsLinks;
  private readonly faults: AmqpFaultInjector;
  private readonly handshakeTimer: TimerHandle;
  private opened = false;
  private closing = false;
  private readonly adapter: RheaSocketAdapter;
  private readonly refusals: RefusalLog;
  private torndown: Promise<void> | undefined;
  /** The TLS client certificates (leaf first) and OpenSSL's verdict, when the client presented any. */
  private readonly certificates: ClientCertificate | undefined;
  private readonly certificateChecks = new Set<PendingCertificateCheck>();
  private readonly routes: LinkRoutes;

  constructor(
    private readonly stream: Duplex,
    info: ConnectionInfo,
    private readonly deps: ConnectionDeps,
  ) {
    const { ctx, logger } = deps;
    this.certificates = info.clientCertificates;
    this.claims = new Claims(ctx.auth, ctx.clock, () =>
      this.recheckLinks(amqpError('IotHubUnauthorized', 'The token that authorized this link has expired')),
    );
    this.refusals = new RefusalLog(
      logger,
      ctx.config.connections,
      () =>
        this.closeWith({
          condition: RESOURCE_LIMIT_EXCEEDED,
          description: 'Too many refused requests on this connection',
        }),
      { throttle: ctx.refusals, remoteAddress: info.remoteAddress },
      (label) => ctx.refusalMeter?.refused('amqp', label),
    );
    // Through the claims' authenticator: it remembers which token proved which principal.
    this.cbs = new CbsNode({
      auth: this.claims.authenticator,
      claims: this.claims,
      logger,
      refused: (fields, message, label, key) => this.refusals.refused(fields, message, label, key),
    });

    this.eventHubs = new EventHubsLinks({
      telemetry: ctx.telemetry,
      hubName: ctx.hubName,
      hosts: ctx.config.hosts,
      port: ctx.config.ports.amqps,
      claims: this.claims,
      logger,
      accept: (link, handler) => this.accept(link, handler),
      refuse: (link, error) => this.refuse(link, error),
    });

    this.faults = new AmqpFaultInjector(ctx.clock, logger, {
      links: () => this.links.keys(),
      detach: (link, error) => this.detach(link, error),
      close: (error) => this.conn.close(error),
      destroySocket: () => this.stream.destroy(),
    });

    this.routes = new LinkRoutes({
      deps,
      claims: this.claims,
      cbs: this.cbs,
      eventHubs: this.eventHubs,
      faults: this.faults,
      accept: (link, handler) => this.accept(link, handler),
      refuse: (link, error) => this.refuse(link, error),
    });

    const container = rhea.create_container({ id: ctx.hubName });
    container.sasl_server_mechanisms.enable_anonymous();
    container.sasl_server_mechanisms.MSSBCBS = () => new CbsMechanism();
    // SASL EXTERNAL = "the TLS client certificate": the device it proves is checked at attach.
    if (this.certificates) container.sasl_server_mechanisms.EXTERNAL = () => new ExternalMechanism();
    container.sasl_server_mechanisms.PLAIN = () =>
      new PlainMechanism(
        async ({ username, password }) => {
          const principal = await this.claims.authenticator.authenticate(password);
          checkPlainUsername(username, principal);
          this.claims.put('sasl', principal);
          return true;
        },
        () => this.abort('sasl authentication failed'),
      );
    // Link and session errors the handlers below did not take: never let them become throws.
    container.on('error', (err: unknown) => logger.debug({ err }, 'amqp endpoint error'));

    const options: ServerConnectionOptions = {
      container_id: ctx.hubName,
      idle_time_out: ctx.config.amqp.idleTimeoutMs,
      max_frame_size: MAX_FRAME_SIZE,
      // Every link the peer attaches where we receive: we grant credit ourselves, settle ourselves.
      receiver_options: { credit_window: 0, autoaccept: false },
      sender_options: { autosettle: true },
    };
    // rhea types create_connection for clients only; accept() below makes it the server side.
    this.conn = container.create_connection(options as ConnectionOptions);
    this.listen();

    let closedResolve!: () => void;
    this.closed = new Promise((resolve) => (closedResolve = resolve));
    stream.on('close', () => {
      void this.teardown().then(closedResolve);
    });
    this.handshakeTimer = ctx.clock.setTimer(() => {
      if (!this.opened) this.abort('no AMQP open within the idle time-out');
    }, ctx.config.amqp.idleTimeoutMs);

    const limits = { clock: ctx.clock, limits: ctx.config.connections, maxFrameSize: MAX_FRAME_SIZE };
    this.adapter = guardedSocket(stream, info, limits, {
      framing: (reason) => this.closeWith({ condition: FRAMING_ERROR, description: reason }),
      noHeader: () => this.abort('no AMQP header in time'),
      stalled: () =>
        this.abort('the peer does not read what the hub sends (writes not drained in time)', undefined, 'warn'),
    });
    acceptSocket(this.conn, this.adapter);
  }

  /** Hub shutdown: detach everything (leases go back), close the connection, wait for the stream to close. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.links.values()].map((h) => h.detached()));
    if (!this.stream.destroyed) {
      this.conn.close({ condition: CONNECTION_FORCED, description: 'The hub is stopping' });
      const backstop = this.deps.ctx.clock.setTimer(() => this.stream.destroy(), 2000);
      await this.closed;
      backstop.cancel();
    }
    await this.closed;
  }

  /**
   * The device was changed in the registry: drop the device tokens it invalidates, so a later
   * attach must bring a new one, and detach links they alone covered. Policy tokens stay.
   */
  deviceChanged(deviceId: string, identity: DeviceIdentity | undefined): void {
    for (const check of this.certificateChecks) {
      if (check.deviceId !== deviceId) continue;
      check.changed = true;
      check.identity = identity;
    }
    const cut = this.claims.revokeDevice(deviceId, identity);
    if (!cut) return;
    this.deps.logger.info({ deviceId, reason: cut.reason }, 'device token revoked by a registry change');
    this.recheckLinks(amqpError(cut.error, `Device "${deviceId}": ${cut.reason}`));
  }

  /** Verified CAs were deleted or un-verified: drop the certificates that chained through one and detach their links. */
  casRemoved(removed: ReadonlySet<string>): void {
    if (!this.claims.revokeCas(removed)) return;
    this.deps.logger.info({ reason: CA_REMOVED.reason }, 'device certificate revoked');
    this.recheckLinks(amqpError(CA_REMOVED.error, CA_REMOVED.reason));
  }

  private listen(): void {
    const { logger } = this.deps;
    const c = this.conn;
    c.on('connection_open', () => {
      this.opened = true;
      this.handshakeTimer.cancel();
      if (this.deps.refuse) {
        logger.warn({ reason: this.deps.refuse.description }, 'amqp connection refused');
        this.deps.ctx.refusalMeter?.refused('amqp', `connection ${this.deps.refuse.condition}`);
        c.close(this.deps.refuse);
      }
    });
    // rhea dispatches outcomes of a disposition on the next tick, but a detach, end or close in the
    // same read right away: let those outcomes land first, or a completed message would be released.
    const afterPending = (fn: () => void) => setImmediate(fn);
    c.on('connection_close', () => afterPending(() => void this.teardown()));
    c.on('connection_error', (ctx: EventContext) => logger.debug({ err: ctx.error }, 'amqp connection error'));
    c.on('disconnected', () => {
      void this.teardown();
      this.stream.end();
    });
    c.on('protocol_error', (err: unknown) => this.abort('protocol error', err));
    c.on('error', (err: unknown) => {
      if (err instanceof AmqpDecodeError) this.closeWith({ condition: DECODE_ERROR, description: err.message });
      else if (err instanceof AmqpInvalidFieldError)
        this.closeWith({ condition: INVALID_FIELD, description: err.message });
      else this.abort('amqp error', err);
    });
    c.on('session_close', (ctx: EventContext) =>
      afterPending(() => {
        for (const link of [...this.links.keys()]) if (link.session === ctx.session) this.linkGone(link);
      }),
    );
    c.on('session_error', (ctx: EventContext) => logger.debug({ err: ctx.session?.error }, 'session ended with error'));
    c.on('sender_open', (ctx: EventContext) => this.guard(() => this.onSenderOpen(ctx.sender!)));
    c.on('receiver_open', (ctx: EventContext) => this.guard(() => this.onReceiverOpen(ctx.receiver!)));
    for (const ev of ['sender_close', 'receiver_close']) {
      c.on(ev, (ctx: EventContext) => {
        const link = ctx.sender ?? ctx.receiver;
        if (link) afterPending(() => this.linkGone(link));
      });
    }
    for (const ev of ['sender_error', 'receiver_error']) {
      c.on(ev, (ctx: EventContext) =>
        logger.debug({ err: (ctx.sender ?? ctx.receiver)?.error }, 'peer detached with error'),
      );
    }
  }

  /** Refuses the link when the connection already holds amqp.maxLinksPerConnection links. */
  private refusedOverLinkCap(link: Sender | Receiver): boolean {
    if (this.links.size < this.deps.ctx.config.amqp.maxLinksPerConnection) return false;
    this.refuse(link, { condition: RESOURCE_LIMIT_EXCEEDED, description: 'Too many links on this connection' });
    return true;
  }

  /**
   * Issue 23: `open` runs only once the connection's credentials cover what `address` needs; an
   * X.509 device's certificate is checked here for the device the address names. Nothing else is
   * said about the link before this (not even that its address is not served).
   */
  private authorizeThen(link: Link, address: LinkAddress, open: () => void): void {
    const need = linkRequirement(address);
    if (need === 'none' || (need === 'any-credential' && this.claims.any())) {
      open();
    } else if (need === 'any-credential') {
      const why = 'No valid token on this connection; put one on $cbs first';
      this.refuse(link, amqpError('IotHubUnauthorizedAccess', why));
    } else if (
      // X.509 devices bring no token: the TLS client certificate proves the device named here.
      need.permission === 'DeviceConnect' &&
      !this.claims.can(need) &&
      this.certificates &&
      this.deps.ctx.x509
    ) {
      this.attachWithCertificate(link, need.deviceId, open);
    } else if (this.authorized(link, need)) {
      open();
    }
  }

  /** The peer attached a receiving link: we send (C2D to a device, feedback, $cbs replies). */
  private onSenderOpen(sender: Sender): void {
    const address = parseLinkAddress(sender.source?.address);
    if (this.refusedOverLinkCap(sender)) return;
    this.authorizeThen(sender, address, () => this.routes.openSender(sender, address));
  }

  /** The peer attached a sending link: we receive (service sends, $cbs requests). */
  private onReceiverOpen(receiver: Receiver): void {
    const address = parseLinkAddress(receiver.target?.address);
    if (this.refusedOverLinkCap(receiver)) return;
    this.authorizeThen(receiver, address, () => this.routes.openReceiver(receiver, address));
  }

  /**
   * Holds the attach answer while the client certificate is checked for `deviceId`; then `open`
   * (the certificate is now a claim of this connection) or refuses the link with the error.
   */
  private attachWithCertificate(link: Link, deviceId: string, open: () => void): void {
    const release = holdAttach(link);
    const x509 = this.deps.ctx.x509!;
    const certificate = this.certificates!.chain[0]!;
    // A registry change while the check runs may come after the identity it read: judge it too.
    const check: PendingCertificateCheck = { deviceId, changed: false, identity: undefined };
    this.certificateChecks.add(check);
    const settle = (fn: () => void) => {
      this.certificateChecks.delete(check);
      if (this.torndown || this.stream.destroyed || !link.is_remote_open()) return;
      release();
      this.guard(fn);
    };
    x509.authenticate(deviceId, this.certificates!).then(
      (principal) =>
        settle(() => {
          let cut = check.changed ? cutOffByChange(check.identity, undefined, certificate) : undefined;
          // Checked in the tick the claim is put: a CA removed from now on revokes it.
          const viaCas = principal.kind === 'device' ? principal.viaCas : undefined;
          if (viaCas && this.deps.ctx.caTrust && !this.deps.ctx.caTrust.trusts(viaCas)) cut ??= CA_REMOVED;
          if (cut || !this.claims.put(`x509:${deviceId}`, principal, certificate)) {
            const why = cut?.reason ?? 'the device may no longer connect';
            this.refuse(link, amqpError(cut?.error ?? 'IotHubUnauthorizedAccess', `Device "${deviceId}": ${why}`));
            return;
          }
          open();
        }),
      (err: unknown) => settle(() => this.refuse(link, toAmqpError(err))),
    );
  }

  private authorized(link: Link, op: Operation): boolean {
    if (this.claims.can(op)) return true;
    const what = op.permission === 'DeviceConnect' ? `DeviceConnect for device "${op.deviceId}"` : op.permission;
    this.refuse(
      link,
      amqpError('IotHubUnauthorizedAccess', `No valid token on this connection grants ${what}; put one on $cbs first`),
    );
    return false;
  }

  /** Echo the peer's terminus (rhea writes our attach on the next tick, after this handler). */
  private accept(link: Link, handler: LinkHandler): void {
    const source = link.source?.address;
    const target = link.target?.address;
    link.set_source(source !== undefined ? { address: source } : ({} as { address: string }));
    link.set_target(target !== undefined ? { address: target } : ({} as { address: string }));
    this.links.set(link, handler);
  }

  /** Our attach goes out without a terminus, then the detach carries the error (AMQP 1.0 2.6.3). */
  private refuse(link: Link, error: AmqpError): void {
    link.close(error);
    const address = linkAddressOf(link);
    const device = 'deviceId' in address ? address.deviceId : undefined;
    this.refusals.refused(
      { condition: error.condition, reason: error.description, link: link.name },
      'link refused',
      `link ${error.condition}`,
      {
        device,
        cause: String(error.condition ?? 'refused'),
      },
    );
  }

  private linkGone(link: Link): void {
    const handler = this.links.get(link);
    if (!handler) return;
    this.links.delete(link);
    handler.detached().catch((err: unknown) => this.deps.logger.warn({ err }, 'link clean-up failed'));
  }

  /** A token expired or was revoked: links it alone covered are closed with `error`. */
  private recheckLinks(error: AmqpError): void {
    for (const [link, handler] of [...this.links]) {
      if (handler.requires && !this.claims.can(handler.requires)) this.detach(link, error);
    }
  }

  /** Detaches a link this connection serves from the hub side. */
  private detach(link: Link, error: AmqpError): void {
    const handler = this.links.get(link);
    this.links.delete(link);
    void handler?.close(error);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.abort('link set-up failed', err);
    }
  }

  /**
   * The peer sent what cannot be read (or asked for a fault): close this connection with `error`
   * (a close frame when the AMQP layer is up, else just the socket; no error: a clean close), read
   * nothing more from it, and destroy it if the peer does not finish the close in time.
   */
  private closeWith(error?: AmqpError): void {
    if (this.stream.destroyed || this.closing) return;
    this.closing = true;
    this.adapter.stopReading();
    this.deps.logger.info({ condition: error?.condition, reason: error?.description }, 'amqp connection closed');
    let sent = false;
    try {
      sent = closeNow(this.conn, error);
    } catch (err) {
      this.deps.logger.debug({ err }, 'could not write the close frame');
    }
    if (!sent) {
      this.stream.destroy();
      return;
    }
    this.stream.end();
    const backstop = this.deps.ctx.clock.setTimer(() => this.stream.destroy(), CLOSE_GRACE_MS);
    this.stream.once('close', () => backstop.cancel());
  }

  private abort(reason: string, err?: unknown, level: 'info' | 'warn' = 'info'): void {
    if (this.stream.destroyed) return;
    this.deps.logger[level]({ reason, err }, 'amqp connection aborted');
    this.stream.destroy();
  }

  private teardown(): Promise<void> {
    if (!this.torndown) {
      this.handshakeTimer.cancel();
      this.faults.dispose();
      this.claims.dispose();
      this.refusals.summarise();
      const handlers = [...this.links.values()];
      this.links.clear();
      this.torndown = Promise.allSettled(handlers.map((h) => h.detached())).then(() => undefined);
    }
    return this.torndown;
  }
}
