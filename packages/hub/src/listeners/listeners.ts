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
import type { StreamGateway } from '../gateways/context.js';
import type { HttpClientInfo } from '../gateways/http/authenticate.js';
import { type BindTarget, bindError } from './bind-error.js';
import { presentedCertificates, REQUEST_CLIENT_CERTIFICATE } from './client-certificates.js';
import { WebSocketRouter } from './websocket.js';

/** What the HTTPS gateway offers the listener. */
export interface HttpGatewayHandler {
  handle(req: IncomingMessage, res: ServerResponse, client?: HttpClientInfo): void;
}

export interface ListenerOptions {
  bind: string;
  ports: { https: number; mqtts: number; amqps: number };
  tls: { certPem: string; keyPem: string };
  /** Connection caps (mqtt/amqp.maxConnections) are the gateways' job: they refuse at protocol level. */
  gateways: { http: HttpGatewayHandler; mqtt: StreamGateway; amqp: StreamGateway };
  /** Largest WebSocket message accepted. */
  maxWebSocketPayload?: number;
  logger: Logger;
  /** Called for every accepted connection (metrics). */
  onConnection?: (protocol: 'mqtt' | 'amqp' | 'https', transport: 'tls' | 'ws') => void;
}

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
  private readonly servers: Array<{ name: string; server: AnyServer }> = [];
  private ws!: WebSocketRouter;
  private serversClosed: Promise<void> | undefined;
  /** Ports actually bound (differs from the configured ones when those were 0). */
  readonly ports = { https: 0, mqtts: 0, amqps: 0 };

  private constructor(private readonly opts: ListenerOptions) {}

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

  private track(socket: Socket): void {
    // Small protocol frames (PUBACK, dispositions) must not wait for Nagle's 40 ms delay.
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private streamServer(protocol: 'mqtt' | 'amqp', gateway: StreamGateway): TlsServer {
    const { logger } = this.opts;
    const server = createTlsServer({
      cert: this.opts.tls.certPem,
      key: this.opts.tls.keyPem,
      minVersion: 'TLSv1.2',
      ...REQUEST_CLIENT_CERTIFICATE,
    });
    server.on('connection', (socket: Socket) => this.track(socket));
    server.on('secureConnection', (socket: TLSSocket) => {
      socket.on('error', (err) => logger.debug({ err, protocol }, 'socket error'));
      this.opts.onConnection?.(protocol, 'tls');
      gateway.handle(socket, {
        remoteAddress: socket.remoteAddress,
        transport: 'tls',
        clientCertificates: presentedCertificates(socket),
      });
    });
    server.on('tlsClientError', (err, socket) => {
      logger.debug({ err, protocol, remoteAddress: socket.remoteAddress }, 'TLS handshake failed');
    });
    return server;
  }

  private httpsServer(): HttpsServer {
    const { gateways, logger } = this.opts;
    const server = createHttpsServer(
      { cert: this.opts.tls.certPem, key: this.opts.tls.keyPem, minVersion: 'TLSv1.2', ...REQUEST_CLIENT_CERTIFICATE },
      (req, res) =>
        gateways.http.handle(req, res, { clientCertificates: presentedCertificates(req.socket as TLSSocket) }),
    );
    server.on('connection', (socket: Socket) => this.track(socket));
    server.on('secureConnection', () => this.opts.onConnection?.('https', 'tls'));
    server.on('tlsClientError', (err, socket) => {
      logger.debug({ err, remoteAddress: socket.remoteAddress }, 'TLS handshake failed (https)');
    });
    server.on('clientError', (err, socket) => {
      logger.debug({ err }, 'malformed HTTP request');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
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
      this.servers.push({ name, server });
      this.ports[name] = await listen(server, { name, address: bind, port: ports[name] });
      this.opts.logger.debug({ listener: name, address: bind, port: this.ports[name] }, 'listening');
    }
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
