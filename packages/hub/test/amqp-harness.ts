/**
 * Test kit for the AMQP gateway: the real stack (Engine over SqliteStore(':memory:'),
 * DeviceRegistry, SasAuthenticator, a manual clock) behind a plain TCP server on 127.0.0.1:0 that
 * calls gateway.handle(), and rhea as the client, speaking the wire the official SDKs speak.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import pino, { type Logger } from 'pino';
import rhea, {
  type AmqpError,
  type Connection,
  type ConnectionOptions,
  type Delivery,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
} from 'rhea';
import { SasAuthenticator } from '../src/auth/authenticator.js';
import type { Authenticator } from '../src/auth/types.js';
import { ManualClock } from '../src/clock.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import type { C2dConfig, FeedbackConfig, HubConfig } from '../src/config/types.js';
import { Engine } from '../src/engine/engine.js';
import type { C2dEngine } from '../src/engine/types.js';
import { createAmqpGateway } from '../src/gateways/amqp/index.js';
import type { StreamGateway } from '../src/gateways/context.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { WAIT_MS, within } from './deadline.js';
import { type TestTokens, testTokens } from './test-tokens.js';

export const HOST = 'localhost';
export const HUB_NAME = 'localhost';

export interface AmqpHarness extends TestTokens {
  clock: ManualClock;
  engine: Engine;
  registry: DeviceRegistry;
  auth: SasAuthenticator;
  gateway: StreamGateway;
  port: number;
  /** Server-side sockets, to cut a connection from the hub side. */
  sockets: Set<Socket>;
  connect(opts?: Partial<ConnectionOptions>): Promise<Client>;
  createDevice(deviceId: string, status?: 'enabled' | 'disabled'): Promise<void>;
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  c2d?: Partial<C2dConfig>;
  feedback?: Partial<FeedbackConfig>;
  amqp?: Partial<HubConfig['amqp']>;
  connections?: Partial<HubConfig['connections']>;
  /** Where the hub logs (silent unless FERRY_TEST_LOG is set). */
  logger?: Logger;
  /** Wrap the engine or the authenticator the gateway sees (a gate, a revocation). */
  wrapEngine?: (engine: C2dEngine) => C2dEngine;
  wrapAuth?: (auth: Authenticator) => Authenticator;
  /** Sees each server-side socket before the gateway does (to tap what the hub writes). */
  onSocket?: (socket: Socket) => void;
  /** Where the manual clock starts (ms since the epoch; default now). */
  clockStart?: number;
}

export async function startAmqpHarness(options: HarnessOptions = {}): Promise<AmqpHarness> {
  const clock = new ManualClock(options.clockStart ?? Date.now());
  const config: HubConfig = {
    ...DEFAULT_CONFIG,
    c2d: { ...DEFAULT_CONFIG.c2d, ...options.c2d },
    feedback: { ...DEFAULT_CONFIG.feedback, batchDelayMs: 0, ...options.feedback },
    amqp: { ...DEFAULT_CONFIG.amqp, ...options.amqp },
    connections: { ...DEFAULT_CONFIG.connections, ...options.connections },
  };
  const logger = options.logger ?? pino({ level: process.env.FERRY_TEST_LOG ?? 'silent' });
  const store = new SqliteStore({ path: ':memory:' });
  const engine = new Engine({ store, clock, c2d: config.c2d, feedback: config.feedback, logger });
  engine.start();
  const registry = new DeviceRegistry({ store, engine, clock });
  await registry.init();
  const auth = new SasAuthenticator({ registry, hosts: [HOST], clock });
  const gateway = createAmqpGateway({
    engine: options.wrapEngine ? options.wrapEngine(engine) : engine,
    registry,
    auth: options.wrapAuth ? options.wrapAuth(auth) : auth,
    config,
    clock,
    logger,
    hubName: HUB_NAME,
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    options.onSocket?.(socket);
    gateway.handle(socket, { remoteAddress: socket.remoteAddress, transport: 'memory' });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const clients: Client[] = [];

  return {
    clock,
    engine,
    registry,
    auth,
    gateway,
    port,
    sockets,
    async connect(opts = {}) {
      const c = new Client(port, opts);
      clients.push(c);
      await within(c.opened, 'the hub to open the AMQP connection');
      return c;
    },
    ...testTokens(registry, HOST, clock),
    async createDevice(deviceId, status = 'enabled') {
      await registry.create({ deviceId, status });
    },
    async advance(ms) {
      // What was submitted before the time passes is committed before it (settles may wait a
      // couple of real milliseconds for company; the manual clock must not overtake them).
      await engine.idle();
      clock.advance(ms);
      await engine.idle();
    },
    async close() {
      for (const c of clients) c.destroy();
      await gateway.close();
      for (const s of sockets) s.destroy();
      server.close();
      await engine.stop();
      await store.close();
    },
  };
}

/** A put-token reply as the client sees it. */
export interface CbsReply {
  status: unknown;
  description: unknown;
  correlationId: unknown;
}

/** An attach the hub answered: either open (terminus echoed) or refused with an error. */
export type AttachResult<L> = { link: L; error?: undefined } | { link: L; error: AmqpError };

/** A rhea client connection with promise helpers. */
export class Client {
  readonly conn: Connection;
  /** No deadline of its own: await it through within() (connect() does). */
  readonly opened: Promise<void>;
  private readonly ended: Promise<AmqpError | undefined>;
  private cbsSender: Sender | undefined;
  private cbsReceiver: Receiver | undefined;
  private readonly cbsWaiters = new Map<string, (r: CbsReply) => void>();

  constructor(port: number, opts: Partial<ConnectionOptions>) {
    const container = rhea.create_container();
    container.on('error', () => {});
    this.conn = container.connect({ host: '127.0.0.1', port, reconnect: false, ...opts } as ConnectionOptions);
    this.conn.on('error', () => {});
    this.conn.on('connection_error', () => {});
    this.conn.on('protocol_error', () => {});
    this.conn.on('sender_error', () => {});
    this.conn.on('receiver_error', () => {});
    this.conn.on('session_error', () => {});
    this.opened = new Promise((resolve, reject) => {
      this.conn.once('connection_open', () => resolve());
      this.conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected before open')));
    });
    this.opened.catch(() => {});
    this.ended = new Promise((resolve) => {
      // A clean close ends with connection_close; a lost socket with disconnected.
      const done = () => resolve(this.conn.error as AmqpError | undefined);
      this.conn.once('connection_close', done);
      this.conn.once('disconnected', done);
    });
  }

  /** Resolves with the connection's error once it is closed or lost; rejects when it is not, in time. */
  get closed(): Promise<AmqpError | undefined> {
    return within(this.ended, 'the AMQP connection to close');
  }

  /** Attach a client sender (we send, the hub receives) and wait for the hub's answer. */
  attachSender(target: string, opts: Record<string, unknown> = {}): Promise<AttachResult<Sender>> {
    return this.attach(this.conn.open_sender({ target: { address: target }, ...opts }), 'sender');
  }

  /** Attach a client receiver (the hub sends) and wait for the hub's answer. */
  attachReceiver(source: string, opts: Record<string, unknown> = {}): Promise<AttachResult<Receiver>> {
    return this.attach(
      this.conn.open_receiver({ source: { address: source }, autoaccept: false, ...opts }),
      'receiver',
    );
  }

  private attach<L extends Sender | Receiver>(link: L, role: 'sender' | 'receiver'): Promise<AttachResult<L>> {
    const answered = new Promise<AttachResult<L>>((resolve) => {
      // A refusal is an attach without the terminus, then a detach with the error.
      link.once(`${role}_open`, () => {
        const terminus = (role === 'sender' ? link.target : link.source) as { address?: unknown } | null;
        if (typeof terminus?.address === 'string') resolve({ link });
      });
      link.once(`${role}_close`, () => resolve({ link, error: (link.error ?? { condition: 'none' }) as AmqpError }));
      link.on(`${role}_error`, () => {});
    });
    const lost = this.ended.then(() => {
      throw new Error(`the AMQP connection closed before the hub answered a ${role} attach`);
    });
    return within(Promise.race([answered, lost]), `the hub's answer to a ${role} attach`);
  }

  /** Resolves with the error the hub detached the link with. */
  linkClosed(link: Sender | Receiver): Promise<AmqpError | undefined> {
    const ev = link.is_sender() ? 'sender_close' : 'receiver_close';
    const closed = new Promise<AmqpError | undefined>((resolve) => {
      if (link.is_itself_closed() || link.error) return resolve(link.error as AmqpError | undefined);
      link.once(ev, () => resolve(link.error as AmqpError | undefined));
    });
    return within(closed, `the hub to detach the link (${ev})`);
  }

  /** The official SDK's put-token: string message_id, reply_to 'cbs', token as amqp-value string. */
  async putToken(
    token: string,
    opts: { audience?: string; type?: string; operation?: string; messageId?: unknown } = {},
  ): Promise<CbsReply> {
    await this.cbsLinks();
    const messageId = opts.messageId ?? rhea.generate_uuid();
    const key = Buffer.isBuffer(messageId) ? messageId.toString('hex') : String(messageId);
    const reply = new Promise<CbsReply>((resolve) => this.cbsWaiters.set(key, resolve));
    const audience = opts.audience ?? /sr=([^&]*)/.exec(token)?.[1] ?? '';
    this.cbsSender!.send({
      to: '$cbs',
      reply_to: 'cbs',
      message_id: messageId as string,
      application_properties: {
        operation: opts.operation ?? 'put-token',
        type: opts.type ?? 'servicebus.windows.net:sastoken',
        name: audience,
      },
      body: token,
    });
    return within(reply, `the reply to a $cbs ${opts.operation ?? 'put-token'}`);
  }

  private async cbsLinks(): Promise<void> {
    if (this.cbsSender) return;
    const s = await this.attachSender('$cbs');
    const r = await this.attachReceiver('$cbs', { autoaccept: true });
    if (s.error || r.error) throw new Error('cbs links refused');
    this.cbsSender = s.link;
    this.cbsReceiver = r.link;
    this.cbsReceiver.on('message', (ctx: EventContext) => {
      const m = ctx.message!;
      const id = m.correlation_id;
      const key = Buffer.isBuffer(id) ? id.toString('hex') : String(id);
      const app = m.application_properties ?? {};
      this.cbsWaiters.get(key)?.({
        status: app['status-code'],
        description: app['status-description'],
        correlationId: id,
      });
      this.cbsWaiters.delete(key);
    });
  }

  /** Send one message; resolves with the hub's outcome. */
  send(sender: Sender, msg: Message): Promise<Outcome> {
    const outcome = new Promise<Outcome>((resolve) => {
      const d = sender.send(msg);
      outcomes(sender).set(d, resolve);
    });
    return within(outcome, "the hub's outcome of a sent message");
  }

  close(): Promise<AmqpError | undefined> {
    this.conn.close();
    return this.closed;
  }

  /** Drops the socket. With an error, so that rhea notices and stops its heartbeat timer. */
  destroy(): void {
    const socket = (this.conn as unknown as { socket?: { destroyed?: boolean; destroy(err?: Error): void } }).socket;
    if (socket && !socket.destroyed) socket.destroy(new Error('dropped by the test'));
  }
}

export interface Outcome {
  state: 'accepted' | 'rejected' | 'released' | 'modified';
  error?: AmqpError;
}

const outcomeMaps = new WeakMap<Sender, Map<Delivery, (o: Outcome) => void>>();

function outcomes(sender: Sender): Map<Delivery, (o: Outcome) => void> {
  let map = outcomeMaps.get(sender);
  if (!map) {
    const m = new Map<Delivery, (o: Outcome) => void>();
    map = m;
    outcomeMaps.set(sender, m);
    const on = (state: Outcome['state']) => (ctx: EventContext) => {
      const d = ctx.delivery!;
      const resolve = m.get(d);
      if (!resolve) return;
      m.delete(d);
      const remote = d.remote_state as { error?: AmqpError } | undefined;
      resolve(remote?.error ? { state, error: remote.error } : { state });
    };
    sender.on('accepted', on('accepted'));
    sender.on('rejected', on('rejected'));
    sender.on('released', on('released'));
    sender.on('modified', on('modified'));
  }
  return map;
}

/** Collects what a client receiver gets, in order. */
export class Inbox {
  readonly items: Array<{ message: Message; delivery: Delivery }> = [];
  private waiters: Array<() => void> = [];

  constructor(receiver: Receiver) {
    receiver.on('message', (ctx: EventContext) => {
      this.items.push({ message: ctx.message!, delivery: ctx.delivery! });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Waits until `n` items have arrived in total; returns them. */
  atLeast(n: number, ms = WAIT_MS): Promise<Array<{ message: Message; delivery: Delivery }>> {
    const wait = async () => {
      while (this.items.length < n) await new Promise<void>((r) => this.waiters.push(r));
      return this.items.slice(0, n);
    };
    return within(wait(), () => `${n} messages on the receiver (${this.items.length} came)`, ms);
  }

  /** The next item after the first `seen`. */
  async nth(i: number): Promise<{ message: Message; delivery: Delivery }> {
    return (await this.atLeast(i + 1))[i]!;
  }
}

/** The service SDK's C2D message shape. */
export function c2d(deviceId: string, body: string, extra: Partial<Message> = {}): Message {
  return {
    to: `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`,
    body: rhea.message.data_section(Buffer.from(body)),
    ...extra,
  };
}

/** Body bytes of a received data-section message. */
export function bodyOf(m: Message): Buffer {
  const b = m.body as { content?: unknown } | Buffer;
  if (Buffer.isBuffer(b)) return b;
  return b?.content as Buffer;
}

/** Waits until `cond` holds, re-checking after each engine commit round. */
export async function eventually(cond: () => boolean | Promise<boolean>, what: string, engine?: Engine): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return;
    if (engine) await engine.idle();
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}
