/**
 * Test kit for the MQTT gateway: an in-memory Duplex pair, a raw MQTT client over it that speaks
 * real bytes (mqtt-packet), a hub context with the real registry and authenticator, and a small
 * in-memory engine with the C2D lease/lock semantics the gateway relies on.
 */
import { Duplex } from 'node:stream';
import {
  type Delivery,
  FerryError,
  type FeedbackBatch,
  type OutgoingMessage,
  type StoredMessage,
  createSasToken,
} from '@ferry/common';
import { generate, type Packet, parser as mqttParser } from 'mqtt-packet';
import { pino } from 'pino';
import { SasAuthenticator } from '../src/auth/authenticator.js';
import { ManualClock } from '../src/clock.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import type { HubConfig } from '../src/config/types.js';
import type { C2dEngine, SendResult } from '../src/engine/types.js';
import type { GatewayContext, StreamGateway } from '../src/gateways/context.js';
import { createMqttGateway } from '../src/gateways/mqtt/index.js';
import { DeviceRegistry } from '../src/registry/registry.js';
import { FakeRegistryStore } from './registry-fake-store.js';

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
  sides.push(make(() => sides[1]!), make(() => sides[0]!));
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

  /** Next packet of the given kind (consumed from the list); rejects if the stream closes first. */
  async next<C extends Packet['cmd']>(cmd: C): Promise<Extract<Packet, { cmd: C }>> {
    for (;;) {
      const i = this.packets.findIndex((p) => p.cmd === cmd);
      if (i >= 0) return this.packets.splice(i, 1)[0] as Extract<Packet, { cmd: C }>;
      if (this.closedFlag) throw new Error(`connection closed while waiting for ${cmd}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Resolves once the hub has closed the connection. */
  async waitClosed(): Promise<void> {
    await this.closed;
  }

  end(): void {
    this.stream.end();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

interface QueuedMessage {
  stored: StoredMessage;
  lock: { token: string; until: number } | undefined;
  leasedBefore: boolean;
}

/**
 * The engine semantics the gateway relies on, in memory: FIFO per device, leases with a lock
 * timeout driven by the clock, release, complete, redelivered flag, onAvailable signals.
 */
export class FakeEngine implements C2dEngine {
  readonly completed: Array<{ deviceId: string; messageId: string | undefined }> = [];
  readonly rejected: Array<{ deviceId: string; messageId: string | undefined }> = [];
  readonly released: string[] = [];
  private readonly queues = new Map<string, QueuedMessage[]>();
  private readonly listeners = new Map<string, Set<() => void>>();
  private seq = 0;
  private tokens = 0;

  constructor(
    private readonly clock: ManualClock,
    private readonly lockTimeoutMs: number,
  ) {}

  async send(deviceId: string, m: OutgoingMessage): Promise<SendResult> {
    const stored: StoredMessage = {
      deviceId,
      sequenceNumber: ++this.seq,
      messageId: m.messageId,
      correlationId: m.correlationId,
      userId: m.userId,
      contentType: m.contentType,
      contentEncoding: m.contentEncoding,
      ack: m.ack ?? 'none',
      expiryTimeUtc: m.expiryTimeUtc ?? this.clock.now() + 3600_000,
      enqueuedTimeUtc: this.clock.now(),
      properties: { ...(m.properties ?? {}) },
      body: m.body,
      deliveryCount: 0,
    };
    this.queue(deviceId).push({ stored, lock: undefined, leasedBefore: false });
    this.signal(deviceId);
    return { messageId: m.messageId, sequenceNumber: stored.sequenceNumber };
  }

  async sendMany(items: ReadonlyArray<{ deviceId: string; message: OutgoingMessage }>): Promise<Array<SendResult | Error>> {
    const out: Array<SendResult | Error> = [];
    for (const i of items) out.push(await this.send(i.deviceId, i.message));
    return out;
  }

  async receive(deviceId: string, max = 1): Promise<Delivery[]> {
    const out: Delivery[] = [];
    for (const q of this.queue(deviceId)) {
      if (out.length >= max) break;
      if (q.lock) continue;
      const token = `lock-${++this.tokens}`;
      const until = this.clock.now() + this.lockTimeoutMs;
      q.lock = { token, until };
      out.push({ ...q.stored, lockToken: token, lockedUntil: until, redelivered: q.leasedBefore });
      q.leasedBefore = true;
      this.clock.setTimer(() => {
        if (q.lock?.token === token) {
          q.lock = undefined;
          this.signal(deviceId);
        }
      }, this.lockTimeoutMs);
    }
    return out;
  }

  async complete(deviceId: string, lockToken: string): Promise<void> {
    const q = this.take(deviceId, lockToken);
    this.completed.push({ deviceId, messageId: q.stored.messageId });
  }

  async abandon(deviceId: string, lockToken: string): Promise<void> {
    const q = this.locked(deviceId, lockToken);
    q.lock = undefined;
    this.signal(deviceId);
  }

  async reject(deviceId: string, lockToken: string): Promise<void> {
    const q = this.take(deviceId, lockToken);
    this.rejected.push({ deviceId, messageId: q.stored.messageId });
  }

  async release(deviceId: string, lockTokens: readonly string[]): Promise<void> {
    // A real release waits for a commit: let other work run first, as it would.
    await new Promise<void>((r) => setImmediate(r));
    for (const q of this.queue(deviceId)) {
      if (q.lock && lockTokens.includes(q.lock.token)) {
        this.released.push(q.lock.token);
        q.lock = undefined;
      }
    }
    this.signal(deviceId);
  }

  async purge(deviceId: string): Promise<number> {
    const n = this.queue(deviceId).length;
    this.queues.set(deviceId, []);
    return n;
  }

  async queueDepth(deviceId: string): Promise<number> {
    return this.queue(deviceId).length;
  }

  /** Messages still queued (enqueued or locked), by message id. */
  pending(deviceId: string): Array<string | undefined> {
    return this.queue(deviceId).map((q) => q.stored.messageId);
  }

  onAvailable(deviceId: string, listener: () => void): () => void {
    let set = this.listeners.get(deviceId);
    if (!set) this.listeners.set(deviceId, (set = new Set()));
    const fn = () => listener();
    set.add(fn);
    return () => set.delete(fn);
  }

  listenerCount(deviceId: string): number {
    return this.listeners.get(deviceId)?.size ?? 0;
  }

  async receiveFeedback(): Promise<FeedbackBatch | null> {
    return null;
  }
  async completeFeedback(): Promise<void> {}
  async abandonFeedback(): Promise<void> {}
  async rejectFeedback(): Promise<void> {}
  onFeedbackAvailable(): () => void {
    return () => {};
  }

  private queue(deviceId: string): QueuedMessage[] {
    let q = this.queues.get(deviceId);
    if (!q) this.queues.set(deviceId, (q = []));
    return q;
  }

  private locked(deviceId: string, lockToken: string): QueuedMessage {
    const q = this.queue(deviceId).find((m) => m.lock?.token === lockToken && m.lock.until > this.clock.now());
    if (!q) throw new FerryError('DeviceMessageLockLost');
    return q;
  }

  private take(deviceId: string, lockToken: string): QueuedMessage {
    const q = this.locked(deviceId, lockToken);
    const list = this.queue(deviceId);
    list.splice(list.indexOf(q), 1);
    return q;
  }

  private signal(deviceId: string): void {
    for (const l of this.listeners.get(deviceId) ?? []) l();
  }
}

export interface TestHub {
  clock: ManualClock;
  engine: FakeEngine;
  registry: DeviceRegistry;
  store: FakeRegistryStore;
  ctx: GatewayContext;
  gateway: StreamGateway;
  /** Registers a device and returns its primary key. */
  device(deviceId: string, status?: 'enabled' | 'disabled'): Promise<string>;
  /** A device SAS token valid for an hour (or until `expiry`, seconds). */
  token(deviceId: string, key: string, expiry?: number): string;
  /** Opens an in-memory connection to the gateway. */
  open(): RawClient;
  /** open() + CONNECT; returns the client and its CONNACK. */
  connect(deviceId: string, key: string, opts?: Partial<ConnectOptions>): Promise<{ client: RawClient; connack: Extract<Packet, { cmd: 'connack' }> }>;
  /** A new gateway over the same store, engine and registry (a hub restart). */
  restart(): Promise<void>;
}

export interface ConnectOptions {
  clean: boolean;
  keepalive: number;
  username: string;
  password: string | undefined;
}

export async function startTestHub(opts: { mqtt?: Partial<HubConfig['mqtt']>; lockTimeoutMs?: number; sessions?: boolean } = {}): Promise<TestHub> {
  const clock = new ManualClock();
  const lockTimeoutMs = opts.lockTimeoutMs ?? 60_000;
  const engine = new FakeEngine(clock, lockTimeoutMs);
  const store = new FakeRegistryStore();
  const registry = new DeviceRegistry({ store, engine, clock });
  await registry.init();
  const auth = new SasAuthenticator({ registry, hosts: [HOST], clock });
  const config: HubConfig = {
    ...DEFAULT_CONFIG,
    hosts: [HOST],
    c2d: { ...DEFAULT_CONFIG.c2d, lockTimeoutMs },
    mqtt: { ...DEFAULT_CONFIG.mqtt, ...opts.mqtt },
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
      return createSasToken({ resourceUri: `${HOST}/devices/${deviceId}`, key, expiry: expiry ?? Math.floor(clock.now() / 1000) + 3600 });
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

export async function subscribe(client: RawClient, deviceId: string, qos: 0 | 1 | 2 = 1, messageId = 1): Promise<number[]> {
  client.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: c2dFilter(deviceId), qos }] });
  const suback = await client.next('suback');
  return suback.granted as number[];
}

/** Lets pending stream events and promise chains run (for asserting that something did NOT happen). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
