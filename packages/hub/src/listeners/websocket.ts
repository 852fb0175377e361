/**
 * WebSocket upgrades on port 443: `/$iothub/websocket` with subprotocol `mqtt` goes to the MQTT
 * gateway, `AMQPWSB10` to the AMQP gateway, as binary streams. The chosen subprotocol is echoed,
 * which the official clients require ("Server sent no subprotocol"). Anything else gets a 400/404.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { createWebSocketStream, type WebSocket, WebSocketServer } from 'ws';
import type { StreamGateway } from '../gateways/context.js';

export const WEBSOCKET_PATH = '/$iothub/websocket';
const PROTOCOLS = ['mqtt', 'AMQPWSB10'] as const;
export type WsProtocol = (typeof PROTOCOLS)[number];

/** The first offered subprotocol Ferry serves, spelled as the client offered it. */
export function pickProtocol(offered: Iterable<string>): { offered: string; protocol: WsProtocol } | undefined {
  for (const o of offered) {
    const protocol = PROTOCOLS.find((p) => p.toLowerCase() === o.trim().toLowerCase());
    if (protocol) return { offered: o.trim(), protocol };
  }
  return undefined;
}

function refuse(socket: Duplex, status: number, reason: string, text: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`,
  );
}

export interface WebSocketRouterOptions {
  gateways: Record<WsProtocol, StreamGateway>;
  /** Connection caps per protocol (mqtt.maxConnections, amqp.maxConnections). */
  maxConnections: Record<WsProtocol, number>;
  maxPayload: number;
  logger: Logger;
}

export class WebSocketRouter {
  private readonly wss: WebSocketServer;
  private accepting = true;

  constructor(private readonly opts: WebSocketRouterOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: opts.maxPayload,
      handleProtocols: (protocols) => pickProtocol(protocols)?.offered ?? false,
    });
  }

  /** The HTTPS server's 'upgrade' handler. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', (err) => this.opts.logger.debug({ err }, 'websocket upgrade socket error'));
    if (!this.accepting) return refuse(socket, 503, 'Service Unavailable', 'The hub is stopping.\n');
    const path = (req.url ?? '').split('?')[0]!.toLowerCase();
    if (path !== WEBSOCKET_PATH.toLowerCase()) {
      return refuse(socket, 404, 'Not Found', `WebSocket connections are served on ${WEBSOCKET_PATH} only.\n`);
    }
    const header = req.headers['sec-websocket-protocol'] ?? '';
    const picked = pickProtocol(header.split(','));
    if (!picked) {
      return refuse(socket, 400, 'Bad Request', 'Sec-WebSocket-Protocol must offer mqtt or AMQPWSB10.\n');
    }
    const gateway = this.opts.gateways[picked.protocol];
    if (gateway.connectionCount >= this.opts.maxConnections[picked.protocol]) {
      this.opts.logger.warn({ protocol: picked.protocol }, 'connection limit reached; websocket refused');
      return refuse(socket, 503, 'Service Unavailable', 'Connection limit reached.\n');
    }
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', (err) => this.opts.logger.debug({ err }, 'websocket stream error'));
      gateway.handle(stream, { remoteAddress: req.socket.remoteAddress, transport: 'ws' });
    });
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  /** Drops whatever WebSockets the gateways left open. */
  terminateAll(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
