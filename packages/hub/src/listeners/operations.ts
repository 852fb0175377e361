/**
 * The operations listener: plain HTTP (no TLS; it carries no secrets and Prometheus scrapes it
 * without a CA), on its own port and address, loopback by default. The requests themselves are
 * answered by observability/operations.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type BindTarget, bindError } from './bind-error.js';

/** The operations endpoint as a bind target, with the settings that move it. */
export function operationsTarget(bind: string, port: number): BindTarget {
  return {
    name: 'operations',
    address: bind,
    port,
    portSetting: 'observability.port (FERRY_OBSERVABILITY_PORT; 0 disables the operations endpoint)',
    bindSetting: 'observability.bind (FERRY_OBSERVABILITY_BIND)',
  };
}

export interface OperationsListenerOptions {
  bind: string;
  port: number;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  logger: Logger;
}

export class OperationsListener {
  private constructor(
    private readonly server: Server,
    /** The port bound. */
    readonly port: number,
    readonly address: string,
  ) {}

  /** Binds, or throws a FerryError saying which port, why, and which setting to change. */
  static start(opts: OperationsListenerOptions): Promise<OperationsListener> {
    const server = createServer(opts.handler);
    // Scrapers keep connections alive; they must not hold a stopping hub open.
    server.keepAliveTimeout = 5000;
    server.on('clientError', (err, socket) => {
      opts.logger.debug({ err }, 'malformed HTTP request (operations)');
      socket.destroy();
    });
    const target = operationsTarget(opts.bind, opts.port);
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(bindError(target, err));
      server.once('error', onError);
      server.listen(opts.port, opts.bind, () => {
        server.off('error', onError);
        const addr = server.address();
        const port = typeof addr === 'object' && addr ? addr.port : opts.port;
        opts.logger.debug({ listener: 'operations', address: opts.bind, port }, 'listening');
        resolve(new OperationsListener(server, port, opts.bind));
      });
    });
  }

  /** Stops listening and drops any connection still open (scrapes are short and repeatable). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
