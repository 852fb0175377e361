/**
 * WebSocket upgrades on port 443: `/$iothub/websocket` with subprotocol `mqtt` goes to the MQTT
 * gateway, `AMQPWSB10` to the AMQP gateway, as binary streams. The chosen subprotocol is echoed,
 * which the official clients require ("Server sent no subprotocol"). `/$servicebus/websocket`
 * (where @azure/event-hubs opens its AMQP WebSocket, as on an Event Hubs namespace) takes
 * `AMQPWSB10` only. Anything else gets a 400/404.
 */
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';
import type { StreamGateway } from '../gateways/context.js';
import { presentedCertificates } from './client-certificates.js';

export const WEBSOCKET_PATH = '/$iothub/websocket';
/** The Event Hubs clients' WebSocket path (the built-in endpoint's readers). */
export const EVENT_HUBS_WEBSOCKET_PATH = '/$servicebus/websocket';
const PROTOCOLS = ['mqtt', 'AMQPWSB10'] as const;
export type WsProtocol = (typeof PROTOCOLS)[number];
/** The subprotocols served on each path. */
const SERVED: Record<string, readonly WsProtocol[]> = {
  [WEBSOCKET_PATH.toLowerCase()]: PROTOCOLS,
  [EVENT_HUBS_WEBSOCKET_PATH.toLowerCase()]: ['AMQPWSB10'],
};

/** The first offered subprotocol Ferry serves (on `path`), spelled as the client offered it. */
export function pickProtocol(
  offered: Iterable<string>,
  served: readonly WsProtocol[] = PROTOCOLS,
): { offered: string; protocol: WsProtocol } | undefined {
  for (const o of offered) {
    const protocol = served.find((p) => p.toLowerCase() === o.trim().toLowerCase());
    if (protocol) return { offered: o.trim(), protocol };
  }
  return undefined;
}

function servedOn(req: IncomingMessage): readonly WsProtocol[] | undefined {
  return SERVED[(req.url ?? '').split('?')[0]!.toLowerCase()];
}

function refuse(socket: Duplex, status: number, reason: string, text: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

/**
 * `ws`, loaded on the first upgrade: a hub whose clients all use MQTT or AMQP over TLS never
 * needs it (about 1.6 MiB of heap; docs/memory.md). It is CommonJS, so a synchronous require.
 */
let wsLibrary: typeof import('ws') | undefined;
function ws(): typeof import('ws') {
  wsLibrary ??= createRequire(import.meta.url)('ws') as typeof import('ws');
  return wsLibrary;
}

export interface WebSocketRouterOptions {
  gateways: Record<WsProtocol, StreamGateway>;
  maxPayload: number;
  logger: Logger;
}

export class WebSocketRouter {
  /** Made on the first upgrade (with the `ws` library). */
  private wss: WebSocketServer | undefined;
  private accepting = true;

  constructor(private readonly opts: WebSocketRouterOptions) {}

  private server(): WebSocketServer {
    this.wss ??= new (ws().WebSocketServer)({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.opts.maxPayload,
      handleProtocols: (protocols, req) => pickProtocol(protocols, servedOn(req))?.offered ?? false,
    });
    return this.wss;
  }

  /** Why an upgrade request is refused, or the protocol it gets. */
  private route(req: IncomingMessage): { protocol: WsProtocol } | { status: number; reason: string; text: string } {
    if (!this.accepting) return { status: 503, reason: 'Service Unavailable', text: 'The hub is stopping.\n' };
    const served = servedOn(req);
    if (!served) {
      return {
        status: 404,
        reason: 'Not Found',
        text: `WebSocket connections are served on ${WEBSOCKET_PATH} (and ${EVENT_HUBS_WEBSOCKET_PATH} for AMQP) only.\n`,
      };
    }
    const picked = pickProtocol((req.headers['sec-websocket-protocol'] ?? '').split(','), served);
    if (!picked) {
      const text = `Sec-WebSocket-Protocol must offer ${served.join(' or ')}.\n`;
      return { status: 400, reason: 'Bad Request', text };
    }
    return { protocol: picked.protocol };
  }

  /** The HTTPS server's 'upgrade' handler. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.opts.logger.debug({ err }, 'websocket upgrade socket error'));
    const route = this.route(req);
    if (!('protocol' in route)) {
      refuse(socket, route.status, route.reason, route.text);
      return;
    }
    const gateway = this.opts.gateways[route.protocol];
    this.server().handleUpgrade(req, socket, head, (client: WebSocket) => {
      const stream = ws().createWebSocketStream(client);
      stream.on('error', (err) => this.opts.logger.debug({ err }, 'websocket stream error'));
      const socket = req.socket as Partial<TLSSocket>;
      gateway.handle(stream, {
        remoteAddress: req.socket.remoteAddress,
        transport: 'ws',
        // Over wss the client certificate is the TLS connection's (MqttWs and AmqpWs send it).
        clientCertificates: socket.encrypted ? presentedCertificates(req.socket as TLSSocket) : undefined,
      });
    });
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  /** Drops whatever WebSockets the gateways left open. */
  terminateAll(): void {
    if (!this.wss) return;
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}
