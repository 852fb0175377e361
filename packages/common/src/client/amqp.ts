/**
 * An AMQP connection to an IoT hub as the official clients open it (official-sdk-wire.md B, D.1):
 * TLS on 5671 or WebSocket `/$iothub/websocket` with subprotocol AMQPWSB10, no SASL, a SAS token
 * put on the `$cbs` node before any other link, and put again to renew it.
 */
import { randomUUID } from 'node:crypto';
import rhea, {
  type Connection,
  type ConnectionOptions,
  type EventContext,
  type Message,
  type Receiver,
  type ReceiverOptions,
  type Sender,
  type SenderOptions,
} from 'rhea';
import WebSocket from 'ws';
import { FerryError } from '../errors.js';
import { errorFromAmqp, socketError } from './client-errors.js';

export interface AmqpTarget {
  host: string;
  /** 5671 for AMQP over TLS, 443 for WebSockets, unless a Ferry hub listens elsewhere. */
  port: number;
  websocket: boolean;
  ca?: string | Buffer | undefined;
  /** The CBS audience: the token's `sr` as written in the token. */
  audience: string;
  /** A fresh SAS token. */
  token(): string;
  /** How long to wait for the hub to answer the open and each put-token (default 60 s). */
  timeoutMs?: number;
}

const CBS = '$cbs';
const CLIENT_VERSION = 'ferry-sdk/0.1.0';

export class AmqpConnection {
  private closing = false;
  private closedHandlers: Array<(err: FerryError) => void> = [];
  private cbsSender: Sender | undefined;
  private cbsPending = new Map<string, { resolve: () => void; reject: (e: FerryError) => void }>();
  private readonly where: string;

  private constructor(
    private readonly target: AmqpTarget,
    readonly connection: Connection,
  ) {
    this.where = `${target.host}:${target.port}`;
  }

  /** Opens the connection and the $cbs links and puts the first token. Rejects with a FerryError. */
  static async open(target: AmqpTarget): Promise<AmqpConnection> {
    const container = rhea.create_container({ id: `ferry-${randomUUID()}` });
    const options: ConnectionOptions = {
      host: target.host,
      port: target.port,
      hostname: target.host,
      reconnect: false,
      transport: 'tls',
      // No SNI for an IP address (RFC 6066); rhea would otherwise send the host.
      servername: /^[\d.]+$|:/.test(target.host) ? '' : target.host,
      ...(target.ca ? { ca: target.ca } : {}),
    } as ConnectionOptions;
    if (target.websocket) {
      const host = target.host.includes(':') ? `[${target.host}]` : target.host;
      const url = `wss://${host}:${target.port}/$iothub/websocket`;
      const ws = container.websocket_connect(WebSocket as unknown as rhea.WebSocketImpl);
      (options as { connection_details?: unknown }).connection_details = ws(
        url,
        ['AMQPWSB10'],
        target.ca ? { ca: target.ca } : {},
      );
    }
    const connection = container.connect(options);
    const self = new AmqpConnection(target, connection);
    await self.waitOpen();
    connection.on('disconnected', (ctx) => self.lost(socketError(self.where, ctx.error)));
    connection.on('connection_close', (ctx) => self.lost(errorFromAmqp(ctx.connection.error as never)));
    try {
      await self.openCbs();
      await self.putToken();
    } catch (err) {
      self.close();
      throw err;
    }
    return self;
  }

  private waitOpen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.connection.close();
        reject(socketError(this.where, Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      }, this.target.timeoutMs ?? 60_000);
      const done = (err?: FerryError) => {
        clearTimeout(timer);
        this.connection.removeAllListeners('connection_open');
        this.connection.removeAllListeners('disconnected');
        this.connection.removeAllListeners('connection_close');
        if (err) reject(err);
        else resolve();
      };
      this.connection.once('connection_open', () => done());
      this.connection.on('disconnected', (ctx: EventContext) => done(socketError(this.where, ctx.error)));
      this.connection.on('connection_close', (ctx: EventContext) => done(errorFromAmqp(ctx.connection.error as never)));
      this.connection.on('connection_error', () => {});
      this.connection.on('error', () => {});
    });
  }

  /** Called once when the connection dies without close() (socket lost, hub closed it). */
  onClosed(handler: (err: FerryError) => void): void {
    this.closedHandlers.push(handler);
  }

  get isOpen(): boolean {
    return !this.closing && this.connection.is_open();
  }

  private lost(err: FerryError): void {
    if (this.closing) return;
    this.closing = true;
    for (const p of this.cbsPending.values()) p.reject(err);
    this.cbsPending.clear();
    for (const h of this.closedHandlers) h(err);
  }

  private async openCbs(): Promise<void> {
    const receiver = await this.openReceiver({ source: { address: CBS }, autoaccept: true });
    receiver.on('message', (ctx) => {
      const msg = ctx.message!;
      const pending = this.cbsPending.get(String(msg.correlation_id));
      if (!pending) return;
      this.cbsPending.delete(String(msg.correlation_id));
      const props = msg.application_properties ?? {};
      if (props['status-code'] === 200) pending.resolve();
      else {
        const text = String(props['status-description'] ?? 'put-token refused');
        pending.reject(new FerryError('IotHubUnauthorizedAccess', `The hub refused the SAS token: ${text}`));
      }
    });
    this.cbsSender = await this.openSender({ target: { address: CBS } });
  }

  /** Puts a fresh token on $cbs (the first time, and to renew it before it expires). */
  putToken(): Promise<void> {
    const sender = this.cbsSender;
    if (!sender || !this.isOpen) return Promise.reject(socketError(this.where, new Error('not connected')));
    const id = randomUUID();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.cbsPending.delete(id);
        reject(new FerryError('ServiceUnavailable', 'The hub did not answer the put-token request'));
      }, this.target.timeoutMs ?? 60_000);
      this.cbsPending.set(id, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      sender.send({
        to: CBS,
        reply_to: 'cbs',
        message_id: id,
        application_properties: {
          operation: 'put-token',
          type: 'servicebus.windows.net:sastoken',
          name: this.target.audience,
        },
        body: this.target.token(),
      });
    });
  }

  /** Attaches a receiver; rejects with the hub's error when it refuses the link. */
  openReceiver(options: ReceiverOptions): Promise<Receiver> {
    const link = this.connection.open_receiver({
      ...options,
      properties: { ...(options.properties as object | undefined), 'com.microsoft:client-version': CLIENT_VERSION },
    } as ReceiverOptions);
    return this.attached(link, 'receiver');
  }

  openSender(options: SenderOptions): Promise<Sender> {
    const link = this.connection.open_sender({
      ...options,
      properties: { ...(options.properties as object | undefined), 'com.microsoft:client-version': CLIENT_VERSION },
    } as SenderOptions);
    return this.attached(link, 'sender');
  }

  private attached<L extends Receiver | Sender>(link: L, kind: 'receiver' | 'sender'): Promise<L> {
    return new Promise((resolve, reject) => {
      let refused: FerryError | undefined;
      const onClose = (ctx: EventContext) => {
        refused = errorFromAmqp((kind === 'receiver' ? ctx.receiver : ctx.sender)?.error as never);
        reject(refused);
      };
      link.once(`${kind}_close`, onClose);
      link.on(`${kind}_error`, () => {});
      // A hub that refuses a link answers the attach and detaches at once, usually in the same
      // read: wait a turn so a refusal is not taken for an open link.
      link.once(`${kind}_open`, () =>
        setImmediate(() => {
          link.removeListener(`${kind}_close`, onClose);
          if (refused) reject(refused);
          else resolve(link);
        }),
      );
      this.onClosed((err) => reject(err));
    });
  }

  /** Closes the connection; never rejects. */
  close(): Promise<void> {
    const wasOpen = this.connection.is_open();
    this.closing = true;
    for (const p of this.cbsPending.values()) p.reject(new FerryError('ServiceUnavailable', 'The client was closed'));
    this.cbsPending.clear();
    if (!wasOpen) {
      this.connection.close();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.connection.socket?.destroy?.();
        resolve();
      }, 2000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.connection.once('connection_close', done);
      this.connection.once('disconnected', done);
      this.connection.close();
    });
  }
}

/** The AMQP message for `fields` with `body` in a data section (what IoT Hub expects). */
export function dataMessage(fields: object, body: Buffer): Message {
  return { ...fields, body: rhea.message.data_section(body) } as Message;
}
