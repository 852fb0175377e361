/**
 * A client that does not trust the hub's certificate gives up without a word: Node clients close
 * the socket during the handshake (TLS 1.2) or right after it, before sending anything (TLS 1.3);
 * OpenSSL-based clients send an "unknown CA" or "bad certificate" alert. Each of these is noted,
 * and at most one info line a minute tells the operator what is probably wrong and how to fix it.
 */
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';

/** A secured socket closed by its client within this time, having sent nothing, looks like distrust. */
const SILENT_CLOSE_MS = 2_000;
const LOG_INTERVAL_MS = 60_000;
const DISTRUST_ALERTS = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN)$/;

/** When a watched socket finished its handshake: a property of the socket, not a closure per socket. */
const SECURED_AT = Symbol('securedAt');
type Watched = TLSSocket & { [SECURED_AT]?: number };

export class TrustHint {
  private lastLogged = -Infinity;
  private unlogged = 0;
  /** One 'close' listener per listener name, shared by its sockets (the socket is `this`). */
  private readonly closeListeners = new Map<string, (this: TLSSocket) => void>();

  constructor(
    private readonly logger: Logger,
    private readonly caFile: string | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** A failed handshake: an alert saying the certificate is not trusted, or a hang-up mid-handshake. */
  handshakeFailed(err: NodeJS.ErrnoException, listener: string, remoteAddress: string | undefined): void {
    if (DISTRUST_ALERTS.test(err.code ?? '') || err.code === 'ECONNRESET') this.note(listener, remoteAddress);
  }

  /** A finished handshake: a client that closes at once, having sent nothing, probably refused the certificate. */
  watch(socket: TLSSocket, listener: string): void {
    (socket as Watched)[SECURED_AT] = this.now();
    let onClose = this.closeListeners.get(listener);
    if (!onClose) {
      const hint = this;
      onClose = function (this: TLSSocket) {
        const securedAt = (this as Watched)[SECURED_AT] ?? Number.NEGATIVE_INFINITY;
        if (this.bytesRead === 0 && hint.now() - securedAt <= SILENT_CLOSE_MS) hint.note(listener, this.remoteAddress);
      };
      this.closeListeners.set(listener, onClose);
    }
    socket.on('close', onClose);
  }

  private note(listener: string, remoteAddress: string | undefined): void {
    const now = this.now();
    if (now - this.lastLogged < LOG_INTERVAL_MS) {
      this.unlogged++;
      return;
    }
    const ca = this.caFile ?? 'the CA file that issued the hub certificate';
    this.logger.info(
      { listener, remoteAddress, similarSinceLastLine: this.unlogged },
      `a client gave up during the TLS handshake, as clients do that do not trust the hub's certificate: ` +
        `give them ${ca} (NODE_EXTRA_CA_CERTS=${ca} for azure-iothub, setOptions({ ca }) for azure-iot-device, ` +
        '--ca for the ferry CLI)',
    );
    this.lastLogged = now;
    this.unlogged = 0;
  }
}
