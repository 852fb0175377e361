/**
 * A rhea client connection to the bench hub, speaking what the official Node SDKs speak: TLS, no
 * SASL (plain AMQP header), a CBS put-token on `$cbs` before any other link, unsettled transfers.
 */
import type { SecureContext } from 'node:tls';
import { createSasToken, parseHubConnectionString } from '@ferry/common';
import rhea, {
  type Connection,
  type ConnectionOptions,
  type Delivery,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
} from 'rhea';
import type { BenchDevice, HubEndpoint } from './bench-hub.js';

const HOUR_S = 3600;

function expiry(): number {
  return Math.ceil(Date.now() / 1000) + HOUR_S;
}

/** Resolves when `link` is attached; rejects when the hub refuses or detaches it. */
function attached<L extends Sender | Receiver>(link: L, role: 'sender' | 'receiver'): Promise<L> {
  return new Promise((resolve, reject) => {
    link.once(`${role}_open`, () => resolve(link));
    link.once(`${role}_close`, () => reject(new Error(`link refused: ${JSON.stringify(link.error ?? null)}`)));
    link.on(`${role}_error`, () => undefined);
  });
}

export class AmqpPeer {
  private cbsSender: Sender | undefined;
  private readonly cbsWaiters = new Map<string, (status: unknown) => void>();
  private constructor(readonly conn: Connection) {}

  static async open(endpoint: HubEndpoint, secureContext: SecureContext): Promise<AmqpPeer> {
    const container = rhea.create_container();
    const conn = container.connect({
      transport: 'tls',
      host: endpoint.address,
      port: endpoint.ports.amqps,
      secureContext,
      reconnect: false,
      idle_time_out: 120_000,
    } as ConnectionOptions);
    for (const ev of [
      'error',
      'connection_error',
      'protocol_error',
      'session_error',
      'sender_error',
      'receiver_error',
    ]) {
      conn.on(ev, () => undefined);
    }
    await new Promise<void>((resolve, reject) => {
      conn.once('connection_open', () => resolve());
      conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected before open')));
    });
    return new AmqpPeer(conn);
  }

  /** The service's put-token as azure-iothub makes it: sr = the host, skn = the policy (`service`). */
  authorizeService(endpoint: HubEndpoint): Promise<void> {
    const policy = parseHubConnectionString(endpoint.serviceConnectionString);
    const token = createSasToken({
      resourceUri: endpoint.address,
      encode: false,
      key: policy.sharedAccessKey,
      keyName: policy.sharedAccessKeyName,
      expiry: expiry(),
    });
    return this.putToken(token, endpoint.address);
  }

  /** A device's put-token: sr = `{host}/devices/{id}`, signed with the device key. */
  authorizeDevice(endpoint: HubEndpoint, device: BenchDevice): Promise<void> {
    const audience = `${endpoint.address}/devices/${device.deviceId}`;
    return this.putToken(createSasToken({ resourceUri: audience, key: device.key, expiry: expiry() }), audience);
  }

  async putToken(token: string, audience: string): Promise<void> {
    if (!this.cbsSender) {
      this.cbsSender = await attached(this.conn.open_sender({ target: { address: '$cbs' } }), 'sender');
      const replies = await attached(
        this.conn.open_receiver({ source: { address: '$cbs' }, autoaccept: true }),
        'receiver',
      );
      replies.on('message', (ctx: EventContext) => {
        const id = String(ctx.message?.correlation_id);
        this.cbsWaiters.get(id)?.(ctx.message?.application_properties?.['status-code']);
        this.cbsWaiters.delete(id);
      });
    }
    const messageId = rhea.generate_uuid();
    const status = new Promise<unknown>((resolve) => this.cbsWaiters.set(messageId, resolve));
    this.cbsSender.send({
      to: '$cbs',
      reply_to: 'cbs',
      message_id: messageId,
      application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: audience },
      body: token,
    });
    const code = await status;
    if (code !== 200) throw new Error(`put-token for ${audience} answered ${String(code)}`);
  }

  async openSender(target: string): Promise<Sender> {
    return attached(this.conn.open_sender({ target: { address: target } }), 'sender');
  }

  async openReceiver(source: string, creditWindow: number): Promise<Receiver> {
    return attached(
      this.conn.open_receiver({ source: { address: source }, autoaccept: false, credit_window: creditWindow }),
      'receiver',
    );
  }

  async close(): Promise<void> {
    if (this.conn.is_closed()) return;
    const closed = new Promise<void>((resolve) => {
      this.conn.once('connection_close', () => resolve());
      this.conn.once('disconnected', () => resolve());
    });
    this.conn.close();
    await Promise.race([closed, new Promise<void>((r) => setTimeout(r, 5000).unref())]);
  }
}

/**
 * Unsettled sends on one sender link: send() resolves on Accepted and rejects on any other
 * outcome. Waits for credit when the hub has granted none.
 */
export class SettlingSender {
  private readonly waiting = new Map<Delivery, (err?: Error) => void>();
  private creditWaiters: Array<() => void> = [];

  constructor(private readonly sender: Sender) {
    sender.on('accepted', (ctx: EventContext) => this.settled(ctx, undefined));
    for (const outcome of ['rejected', 'released', 'modified']) {
      sender.on(outcome, (ctx: EventContext) =>
        this.settled(
          ctx,
          `${outcome}: ${JSON.stringify((ctx.delivery?.remote_state as { error?: unknown })?.error ?? null)}`,
        ),
      );
    }
    sender.on('sendable', () => {
      for (const w of this.creditWaiters.splice(0)) w();
    });
  }

  send(message: Message): Promise<void> {
    return new Promise((resolve, reject) =>
      this.transfer(message, undefined, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** send() for a message already encoded (C2dEncoder), answering `done` instead of a promise. */
  sendEncoded(bytes: Buffer, done: (err?: Error) => void): void {
    this.transfer(bytes, 0, done);
  }

  /** Sends once there is credit; `format` 0 for bytes already encoded, undefined for a Message. */
  private transfer(payload: Message | Buffer, format: number | undefined, done: (err?: Error) => void): void {
    if (!this.sender.sendable()) {
      this.creditWaiters.push(() => this.transfer(payload, format, done));
      return;
    }
    this.waiting.set(this.sender.send(payload, undefined, format), done);
  }

  private settled(ctx: EventContext, error: string | undefined): void {
    const done = ctx.delivery && this.waiting.get(ctx.delivery);
    if (!done) return;
    this.waiting.delete(ctx.delivery!);
    done(error === undefined ? undefined : new Error(error));
  }
}

/** Body bytes of a received message (a data section, or raw bytes). */
export function bodyOf(m: Message | undefined): Buffer {
  const b = m?.body as { content?: unknown } | Buffer | undefined;
  if (Buffer.isBuffer(b)) return b;
  return Buffer.isBuffer(b?.content) ? b.content : Buffer.alloc(0);
}

export function c2dMessage(deviceId: string, body: Buffer, messageId: string): Message {
  return {
    to: `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`,
    message_id: messageId,
    body: rhea.message.data_section(body),
  };
}

/**
 * c2dMessage as rhea.message.encode gives it, without running the encoder per message: one
 * template per device and message-id length, encoded by rhea, into a copy of which the id and the
 * body are written. Each template's first message is checked against rhea's own encoding.
 */
export class C2dEncoder {
  private readonly templates = new Map<string, { bytes: Buffer; idAt: number; checked: boolean }>();

  encode(deviceId: string, messageId: string, body: Buffer): Buffer {
    const key = `${messageId.length} ${body.length} ${deviceId}`;
    let t = this.templates.get(key);
    if (!t) {
      // '#' is in neither the id nor the (percent-encoded) address, so it marks the id's place.
      const placeholder = '#'.repeat(messageId.length);
      const bytes = rhea.message.encode(c2dMessage(deviceId, Buffer.alloc(body.length), placeholder));
      t = { bytes, idAt: bytes.indexOf(placeholder, 0, 'latin1'), checked: false };
      this.templates.set(key, t);
    }
    const out = Buffer.allocUnsafe(t.bytes.length);
    t.bytes.copy(out);
    out.write(messageId, t.idAt, 'latin1');
    body.copy(out, out.length - body.length);
    if (!t.checked) {
      if (!out.equals(rhea.message.encode(c2dMessage(deviceId, body, messageId)))) {
        throw new Error(`C2dEncoder: template for ${deviceId} differs from rhea's encoding`);
      }
      t.checked = true;
    }
    return out;
  }
}
