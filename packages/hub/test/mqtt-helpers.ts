/**
 * Test kit for the MQTT gateway: an in-memory Duplex pair, a raw MQTT client over it that speaks
 * real bytes (mqtt-packet), and a hub context made of the real pieces: SQLite store (in memory),
 * engine, registry and authenticator, all on a manual clock.
 */
import { Duplex } from 'node:stream';
import { createSasToken, type Delivery, type FeedbackBatch, type OutgoingMessage } from '@ferry/common';
import { generate, parser as mqttParser, type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { SasAuthenticator } from '../src/auth/authenticator.js';
import { ManualClock } from '../src/clock.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import type { HubConfig } from '../src/config/types.js';
import { Engine } from '../src/engine/engine.js';
import type { C2dEngine, DirectReceiver, ReceiverHandlers, SendResult } from '../src/engine/types.js';
import type { GatewayContext, StreamGateway } from '../src/gateways/context.js';
import { createMqttGateway } from '../src/gateways/mqtt/index.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { DeadLetter, HistoryEvent } from '../src/store/types.js';
import { WAIT_MS, within } from './deadline.js';

export const HOST = 'ferry.test';

/** Two connected in-memory streams; ending or destroying one side ends or destroys the other. */
export function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = [];
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        peer().push(chunk);
        cb();
      },
      final(cb) {
        peer().push(null);
        cb();
      },
      destroy(err, cb) {
        const p = peer();
        if (!p.destroyed) p.destroy();
        cb(err);
      },
    });
  sides.push(
    make(() => sides[1]!),
    make(() => sides[0]!),
  );
  return [sides[0]!, sides[1]!];
}

/** The device side of a connection: sends packets as bytes, collects what the hub sends. */
export class RawClient {
  readonly packets: Packet[] = [];
  readonly received: Buffer[] = [];
  private waiters: Array<() => void> = [];
  private closedFlag = false;
  readonly closed: Promise<void>;

  constructor(readonly stream: Duplex) {
    const p = mqttParser({ protocolVersion: 4 });
    p.on('packet', (packet: Packet) => {
      this.packets.push(packet);
      this.notify();
    });
    p.on('error', (err: Error) => {
      throw err;
    });
    stream.on('data', (b: Buffer) => {
      this.received.push(b);
      p.parse(b);
    });
    this.closed = new Promise((resolve) => {
      const done = () => {
        this.closedFlag = true;
        this.notify();
        resolve();
      };
      stream.once('end', done);
      stream.once('close', done);
    });
    stream.on('error', () => {});
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  send(packet: Packet): void {
    this.stream.write(generate(packet));
  }

  writeRaw(bytes: Buffer): void {
    this.stream.write(bytes);
  }

  /** Next packet of the given kind (consumed from the list); rejects if the stream closes first, or in time. */
  next<C extends Packet['cmd']>(cmd: C, ms = WAIT_MS): Promise<Extract<Packet, { cmd: C }>> {
    const wait = async () => {
      for (;;) {
        const i = this.packets.findIndex((p) => p.cmd === cmd);
        if (i >= 0) return this.packets.splice(i, 1)[0] as Extract<Packet, { cmd: C }>;
        if (this.closedFlag) throw new Error(`connection closed while waiting for ${cmd}`);
        await new Promise<void>((r) => this.waiters.push(r));
      }
    };
    return within(wait(), `an MQTT ${cmd} from the hub`, ms);
  }

  /** Resolves once the hub has closed the connection; rejects when it has not in time. */
  waitClosed(ms = WAIT_MS): Promise<void> {
    return within(this.closed, 'the hub to close the MQTT connection', ms);
  }

  end(): void {
    this.stream.end();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/**
 * The real engine, with a record of what the gateway settled (for assertions). Every call goes
 * straight through; nothing is faked.
 */
export class RecordingEngine implements C2dEngine {
  readonly completed: Array<{ deviceId: string; messageId: string | undefined }> = [];
  readonly rejected: Array<{ deviceId: string; messageId: string | undefined }> = [];
  readonly released: string[] = [];
  private readonly messageIds = new Map<string, string | undefined>();
  private readonly listening = new Map<string, number>();

  constructor(readonly inner: Engine) {}

  send(deviceId: string, m: OutgoingMessage): Promise<SendResult> {
    return this.inner.send(deviceId, m);
  }

  sendMany(items: ReadonlyArray<{ deviceId: string; message: OutgoingMessage }>): Promise<Array<SendResult | Error>> {
    return this.inner.sendMany(items);
  }

  async receive(deviceId: string, max?: number, protocol?: string): Promise<Delivery[]> {
    const out = await this.inner.receive(deviceId, max, protocol);
    for (const d of out) this.messageIds.set(d.lockToken, d.messageId);
    return out;
  }

  openReceiver(deviceId: string, handlers: ReceiverHandlers, protocol?: string): DirectReceiver {
    return this.inner.openReceiver(
      deviceId,
      {
        onDeliveries: (out) => {
          for (const d of out) this.messageIds.set(d.lockToken, d.messageId);
          handlers.onDeliveries(out);
        },
        onError: (err) => handlers.onError(err),
      },
      protocol,
    );
  }

  async complete(deviceId: string, lockToken: string): Promise<void> {
    await this.inner.complete(deviceId, lockToken);
    this.completed.push({ deviceId, messageId: this.messageIds.get(lockToken) });
  }

  abandon(deviceId: string, lockToken: string): Promise<void> {
    return this.inner.abandon(deviceId, lockToken);
  }

  async reject(deviceId: string, lockToken: string): Promise<void> {
    await this.inner.reject(deviceId, lockToken);
    this.rejected.push({ deviceId, messageId: this.messageIds.get(lockToken) });
  }

  async release(deviceId: string, lockTokens: readonly string[]): Promise<void> {
    await this.inner.release(deviceId, lockTokens);
    this.released.push(...lockTokens);
  }

  purge(deviceId: string): Promise<number> {
    return this.inner.purge(deviceId);
  }
  messageHistory(deviceId: string, messageId: string): Promise<HistoryEvent[]> {
    return this.inner.messageHistory(deviceId, messageId);
  }
  deadLetters(deviceId: string, limit: number): Promise<DeadLetter[]> {
    return this.inner.deadLetters(deviceId, limit);
  }
  requeueDeadLetter(deviceId: string, sequenceNumber: number): Promise<number> {
    return this.inner.requeueDeadLetter(deviceId, sequenceNumber);
  }
  deleteDeadLetter(deviceId: string, sequenceNumber: number): Promise<void> {
    return this.inner.deleteDeadLetter(deviceId, sequenceNumber);
  }

  queueDepth(deviceId: string): Promise<number> {
    return this.inner.queueDepth(deviceId);
  }

  onAvailable(deviceId: string, listener: () => void): () => void {
    const off = this.inner.onAvailable(deviceId, listener);
    this.listening.set(deviceId, (this.listening.get(deviceId) ?? 0) + 1);
    let on = true;
    return () => {
      if (on) this.listening.set(deviceId, this.listening.get(deviceId)! - 1);
      on = false;
      off();
    };
  }

  /** onAvailable listeners currently registered for the device. */
  listenerCount(deviceId: string): number {
    return this.listening.get(deviceId) ?? 0;
  }

  receiveFeedback(): Promise<FeedbackBatch | null> {
    return this.inner.receiveFeedback();
  }
  completeFeedback(lockToken: string): Promise<void> {
    return this.inner.completeFeedback(lockToken);
  }
  abandonFeedback(lockToken: string): Promise<void> {
    return this.inner.abandonFeedback(lockToken);
  }
  rejectFeedback(lockToken: string): Promise<void> {
    return this.inner.rejectFeedback(lockToken);
  }
  onFeedbackAvailable(listener: () => void): () => void {
    return this.inner.onFeedbackAvailable(listener);
  }
}

export interface TestHub {
  clock: ManualClock;
  engine: RecordingEngine;
  registry: DeviceRegistry;
  store: SqliteStore;
  ctx: GatewayContext;
  gateway: StreamGateway;
  /** Registers a device and returns its primary key. */
  device(deviceId: string, status?: 'enabled' | 'disabled'): Promise<string>;
  /** A device SAS token valid for an hour (or until `expiry`, seconds). */
  token(deviceId: string, key: string, expiry?: number): string;
  /** Opens an in-memory connection to the gateway. */
  open(): RawClient;
  /** open() + CONNECT; returns the client and its CONNACK. */
  connect(
    deviceId: string,
    key: string,
    opts?: Partial<ConnectOptions>,
  ): Promise<{ client: RawClient; connack: Extract<Packet, { cmd: 'connack' }> }>;
  /** A new gateway over the same store, engine and registry (a hub restart). */
  restart(): Promise<void>;
}

export interface ConnectOptions {
  clean: boolean;
  keepalive: number;
  username: string;
  password: string | undefined;
}

export async function startTestHub(
  opts: {
    mqtt?: Partial<HubConfig['mqtt']>;
    connections?: Partial<HubConfig['connections']>;
    maxQueueDepth?: number;
    lockTimeoutMs?: number;
    sessions?: boolean;
  } = {},
): Promise<TestHub> {
  const clock = new ManualClock();
  const lockTimeoutMs = opts.lockTimeoutMs ?? 60_000;
  const store = new SqliteStore({ path: ':memory:' });
  const c2d = {
    ...DEFAULT_CONFIG.c2d,
    lockTimeoutMs,
    maxQueueDepth: opts.maxQueueDepth ?? DEFAULT_CONFIG.c2d.maxQueueDepth,
  };
  const inner = new Engine({ store, clock, c2d, feedback: DEFAULT_CONFIG.feedback });
  inner.start();
  const engine = new RecordingEngine(inner);
  const registry = new DeviceRegistry({ store, engine, clock });
  await registry.init();
  const auth = new SasAuthenticator({ registry, hosts: [HOST], clock });
  const config: HubConfig = {
    ...DEFAULT_CONFIG,
    hosts: [HOST],
    c2d,
    mqtt: { ...DEFAULT_CONFIG.mqtt, ...opts.mqtt },
    connections: { ...DEFAULT_CONFIG.connections, ...opts.connections },
  };
  const ctx: GatewayContext = {
    engine,
    registry,
    auth,
    config,
    clock,
    logger: pino({ level: 'silent' }),
    hubName: 'ferry',
    ...(opts.sessions === false ? {} : { sessions: store }),
  };
  const hub: TestHub = {
    clock,
    engine,
    registry,
    store,
    ctx,
    gateway: createMqttGateway(ctx),
    async device(deviceId, status = 'enabled') {
      const d = await registry.create({ deviceId, status });
      return d.authentication.symmetricKey.primaryKey!;
    },
    token(deviceId, key, expiry) {
      return createSasToken({
        resourceUri: `${HOST}/devices/${deviceId}`,
        key,
        expiry: expiry ?? Math.floor(clock.now() / 1000) + 3600,
      });
    },
    open() {
      const [server, client] = duplexPair();
      hub.gateway.handle(server, { remoteAddress: '127.0.0.1', transport: 'memory' });
      return new RawClient(client);
    },
    async connect(deviceId, key, o = {}) {
      const client = hub.open();
      const password = 'password' in o ? o.password : hub.token(deviceId, key);
      client.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: deviceId,
        clean: o.clean ?? false,
        keepalive: o.keepalive ?? 180,
        username: o.username ?? `${HOST}/${deviceId}/?api-version=2021-04-12&DeviceClientType=test`,
        ...(password === undefined ? {} : { password: Buffer.from(password) }),
      });
      const connack = await client.next('connack');
      return { client, connack };
    },
    async restart() {
      await hub.gateway.close();
      hub.gateway = createMqttGateway(ctx);
    },
  };
  return hub;
}

/** Waits until `cond` holds, yielding to the event loop between checks (no timers, no sleeps). */
export async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The C2D topic filter of a device. */
export const c2dFilter = (deviceId: string) => `devices/${deviceId}/messages/devicebound/#`;

export async function subscribe(
  client: RawClient,
  deviceId: string,
  qos: 0 | 1 | 2 = 1,
  messageId = 1,
): Promise<number[]> {
  client.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: c2dFilter(deviceId), qos }] });
  const suback = await client.next('suback');
  return suback.granted as number[];
}

/** Lets pending stream events and promise chains run (for asserting that something did NOT happen). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
