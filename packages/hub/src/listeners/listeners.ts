/**
 * The hub's sockets, and the only place that opens any: MQTT over TLS, AMQP over TLS, and one
 * HTTPS server carrying the REST endpoints and the WebSocket upgrades. Every connection is handed
 * to a gateway; nothing here knows a protocol.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { ConnectionLimits } from '../config/types.js';
import type { StreamGateway } from '../gateways/context.js';
import type { HttpClientInfo } from '../gateways/http/authenticate.js';
import { type BindTarget, bindError } from './bind-error.js';
import { presentedCertificates, REQUEST_CLIENT_CERTIFICATE } from './client-certificates.js';
import { handshakeReason } from './handshake-reason.js';
import { type ServerIdentity, setTrustAnchors } from './trust-anchors.js';
import { TrustHint } from './trust-hint.js';
import { WebSocketRouter } from './websocket.js';

/** What the HTTPS gateway offers the listener. */
export interface HttpGatewayHandler {
  handle(req: IncomingMessage, res: ServerResponse, client?: HttpClientInfo): void;
}

export interface ListenerOptions {
  bind: string;
  ports: { https: number; mqtts: number; amqps: number };
  tls: { certPem: string; keyPem: string };
  /** The hub's verified CA certificates (PEM): OpenSSL verifies client certificate chains against these only. */
  clientCas?: readonly string[];
  /** Connection caps (mqtt/amqp.maxConnections) are the gateways' job: they refuse at protocol level. */
  gateways: { http: HttpGatewayHandler; mqtt: StreamGateway; amqp: StreamGateway };
  /** Largest WebSocket message accepted. */
  maxWebSocketPayload?: number;
  logger: Logger;
  /** Called for every accepted connection (metrics). */
  onConnection?: (protocol: 'mqtt' | 'amqp' | 'https', transport: 'tls' | 'ws') => void;
  /** Called for every failed TLS handshake, with the listener's port and a short reason (metrics). */
  onHandshakeFailed?: (port: number, reason: string) => void;
  /** Called for every connection dropped before its handshake because too many were in one (metrics). */
  onRefused?: (protocol: 'mqtt' | 'amqp' | 'https', cause: string) => void;
  /** The CA file clients must trust, named in the hint logged when clients seem not to trust the hub. */
  caFile?: string;
  /** Handshake deadlines and cap (connections.*); the MQTT and AMQP first-packet deadlines are the gateways'. */
  limits?: Pick<ConnectionLimits, 'tlsHandshakeTimeoutMs' | 'firstPacketTimeoutMs' | 'maxPendingHandshakes'>;
}

const DEFAULT_LIMITS = {
  tlsHandshakeTimeoutMs: 30_000,
  firstPacketTimeoutMs: 30_000,
  maxPendingHandshakes: 1000,
};

type AnyServer = TlsServer | HttpsServer;

function listen(server: AnyServer, target: BindTarget): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(bindError(target, err));
    server.once('error', onError);
    server.listen(target.port, target.address, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : target.port);
    });
  });
}

function closeServer(server: AnyServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

export class Listeners {
  private readonly sockets = new Set<Socket>();
  /** Accepted sockets whose TLS handshake has not finished (bounded by limits.maxPendingHandshakes). */
  private readonly handshaking = new Set<Socket>();
  private readonly limits: NonNullable<ListenerOptions['limits']>;
  private readonly trust: TrustHint;
  private readonly servers: Array<{ name: string; server: AnyServer }> = [];
  private readonly identity: ServerIdentity;
  private ws!: WebSocketRouter;
  private serversClosed: Promise<void> | undefined;
  /** One 'close' listener for every socket (the socket is `this`), not a closure each. */
  private readonly untrack: (this: Socket) => void;
  /** Ports actually bound (differs from the configured ones when those were 0). */
  readonly ports = { https: 0, mqtts: 0, amqps: 0 };

  private constructor(private readonly opts: ListenerOptions) {
    const { sockets, handshaking } = this;
    this.untrack = function (this: Socket) {
      sockets.delete(this);
      handshaking.delete(this);
    };
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.trust = new TrustHint(opts.logger, opts.caFile);
    this.identity = { cert: opts.tls.certPem, key: opts.tls.keyPem, minVersion: 'TLSv1.2' };
  }

  /** Binds all three listeners; when one fails, closes those already bound and throws the bind error. */
  static async start(opts: ListenerOptions): Promise<Listeners> {
    const listeners = new Listeners(opts);
    try {
      await listeners.bindAll();
    } catch (err) {
      await listeners.close();
      throw err;
    }
    return listeners;
  }

  private track(socket: Socket, protocol: 'mqtt' | 'amqp' | 'https'): void {
    if (this.handshaking.size >= this.limits.maxPendingHandshakes) {
      this.refusedHandshakes++;
      this.opts.onRefused?.(protocol, 'too-many-handshakes');
      if (this.refusedHandshakes === 1 || this.refusedHandshakes % 1000 === 0) {
        this.opts.logger.warn(
          { pending: this.handshaking.size, refused: this.refusedHandshakes },
          'too many connections in TLS handshake: new ones are dropped',
        );
      }
      socket.destroy();
      return;
    }
    // Small protocol frames (PUBACK, dispositions) must not wait for Nagle's 40 ms delay.
    socket.setNoDelay(true);
    this.sockets.add(socket);
    this.handshaking.add(socket);
    socket.on('close', this.untrack);
  }

  /** Handshake done: the raw socket under the TLS socket no longer counts against the cap. */
  private secured(tlsSocket: TLSSocket): void {
    const raw = (tlsSocket as TLSSocket & { _parent?: Socket })._parent;
    if (raw) this.handshaking.delete(raw);
  }

  /** The handshake failed or timed out (tlsHandshakeTimeoutMs): Node leaves the socket open when this is handled. */
  private handshakeFailed(err: Error, socket: TLSSocket, listener: string): void {
    this.opts.logger.debug({ err, listener, remoteAddress: socket.remoteAddress }, 'TLS handshake failed');
    this.trust.handshakeFailed(err, listener, socket.remoteAddress);
    this.opts.onHandshakeFailed?.(socket.localPort ?? 0, handshakeReason(err));
    socket.destroy();
  }

  /** Sockets still in their TLS handshake (for tests and metrics). */
  get pendingHandshakes(): number {
    return this.handshaking.size;
  }

  private refusedHandshakes = 0;

  private streamServer(protocol: 'mqtt' | 'amqp', gateway: StreamGateway): TlsServer {
    const { logger } = this.opts;
    const server = createTlsServer({
      ...this.identity,
      handshakeTimeout: this.limits.tlsHandshakeTimeoutMs,
      ...REQUEST_CLIENT_CERTIFICATE,
    });
    server.on('connection', (socket: Socket) => this.track(socket, protocol));
    const onError = (err: Error) => logger.debug({ err, protocol }, 'socket error');
    server.on('secureConnection', (socket: TLSSocket) => {
      this.secured(socket);
      this.trust.watch(socket, protocol);
      socket.on('error', onError);
      this.opts.onConnection?.(protocol, 'tls');
      gateway.handle(socket, {
        remoteAddress: socket.remoteAddress,
        transport: 'tls',
        clientCertificates: presentedCertificates(socket),
      });
    });
    server.on('tlsClientError', (err, socket) => this.handshakeFailed(err, socket, protocol));
    return server;
  }

  private httpsServer(): HttpsServer {
    const { gateways, logger } = this.opts;
    const { tlsHandshakeTimeoutMs, firstPacketTimeoutMs } = this.limits;
    const server = createHttpsServer(
      {
        ...this.identity,
        handshakeTimeout: tlsHandshakeTimeoutMs,
        // The request headers are the first packet: a connection that sends none gets 408 and is closed.
        headersTimeout: firstPacketTimeoutMs,
        requestTimeout: Math.max(300_000, firstPacketTimeoutMs),
        // Node checks those deadlines on this interval (30 s by default): keep it below the deadline.
        connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(firstPacketTimeoutMs / 4))),
        ...REQUEST_CLIENT_CERTIFICATE,
      },
      (req, res) =>
        gateways.http.handle(req, res, { clientCertificates: presentedCertificates(req.socket as TLSSocket) }),
    );
    server.on('connection', (socket: Socket) => this.track(socket, 'https'));
    server.on('secureConnection', (socket: TLSSocket) => {
      this.secured(socket);
      this.trust.watch(socket, 'https');
      this.opts.onConnection?.('https', 'tls');
    });
    server.on('tlsClientError', (err, socket) => this.handshakeFailed(err, socket, 'https'));
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // No complete request within connections.firstPacketTimeoutMs: 408, as Node would answer.
      const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      logger.debug({ err }, timedOut ? 'no HTTP request in time' : 'malformed HTTP request');
      const status = timedOut ? '408 Request Timeout' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
      // A peer that never reads our answer must not keep the socket open.
      setTimeout(() => socket.destroy(), 2000).unref();
    });
    this.ws = new WebSocketRouter({
      gateways: { mqtt: gateways.mqtt, AMQPWSB10: gateways.amqp },
      maxPayload: this.opts.maxWebSocketPayload ?? 16 * 1024 * 1024,
      logger,
    });
    server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => this.ws.upgrade(req, socket, head));
    return server;
  }

  private async bindAll(): Promise<void> {
    const { bind, ports, gateways } = this.opts;
    const plan: Array<{ name: 'https' | 'mqtts' | 'amqps'; server: AnyServer }> = [
      { name: 'https', server: this.httpsServer() },
      { name: 'mqtts', server: this.streamServer('mqtt', gateways.mqtt) },
      { name: 'amqps', server: this.streamServer('amqp', gateways.amqp) },
    ];
    for (const { name, server } of plan) {
      setTrustAnchors(server, this.identity, this.opts.clientCas ?? [], this.opts.logger);
      this.servers.push({ name, server });
      this.ports[name] = await listen(server, { name, address: bind, port: ports[name] });
      this.opts.logger.debug({ listener: name, address: bind, port: this.ports[name] }, 'listening');
    }
  }

  /**
   * The verified CA certificates changed: new TLS connections are verified against these (open
   * ones keep their verdict; the gateways cut those whose CA was removed).
   */
  setClientCas(pems: readonly string[]): void {
    for (const { server } of this.servers) setTrustAnchors(server, this.identity, pems, this.opts.logger);
  }

  /** Stop taking new connections; the ones open stay up for the gateways to close. */
  stopAccepting(): void {
    this.ws?.stopAccepting();
    // close() refuses new connections at once; its callback waits for the open ones to end.
    this.serversClosed ??= Promise.all(this.servers.map(({ server }) => closeServer(server))).then(() => undefined);
    for (const { server } of this.servers) {
      if ('closeIdleConnections' in server) server.closeIdleConnections();
    }
  }

  /** Ends everything: stops accepting, drops connections still open, waits for the servers. */
  async close(): Promise<void> {
    this.stopAccepting();
    this.ws?.terminateAll();
    for (const socket of this.sockets) socket.destroy();
    await this.serversClosed;
  }
}
