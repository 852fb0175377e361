/**
 * DeviceClient: a device's connection to Ferry or Azure IoT Hub over MQTT, AMQP or HTTPS: receive
 * and settle cloud-to-device messages, send telemetry, and (MQTT, AMQP) its twin and direct
 * methods. Transient failures are retried and lost connections re-opened (with the C2D, twin and
 * method subscriptions) by the retry policy; a receive() in progress waits through a reconnect.
 */
import { EventEmitter } from 'node:events';
import { FerryError, parseDeviceConnectionString } from '@ferry/common';
import {
  deviceTokenSource,
  ExponentialBackoffWithJitter,
  type RetryPolicy,
  realSleep,
  splitHostName,
  withRetry,
} from '@ferry/common/client';
import { AmqpTransport } from './amqp-transport.js';
import { MethodDispatcher, type MethodHandler } from './device-methods.js';
import { type DesiredHandler, type DeviceTwin, TwinFollower, type TwinProperties } from './device-twin.js';
import { type EventMessage, toOutgoingEvent } from './events.js';
import { HttpsTransport } from './https-transport.js';
import { MqttTransport } from './mqtt-transport.js';
import { checkOptions, DEFAULT_PORTS, type DeviceClientOptions, type DeviceTransportName } from './options.js';
import type { DeviceTransport, Feature, ReceivedMessage, Settlement, TransportEvents } from './transport.js';

export type ConnectionState = 'new' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'closed';

export interface DeviceClientEvents {
  /** The connection state changed; `error` says why when it was lost. */
  state: [state: ConnectionState, error: FerryError | undefined];
}

export interface ReceiveOptions {
  /** How long to wait for a message, ms (default 60 000). Over HTTPS receive() asks once and returns at once. */
  timeoutMs?: number;
}

export const DEFAULT_RECEIVE_TIMEOUT_MS = 60_000;
/** What each feature is called in the error of a transport that cannot carry it. */
const PUSHED: Readonly<Record<Feature, string>> = {
  c2d: 'Pushed cloud-to-device messages',
  twin: 'Device twins',
  methods: 'Direct methods',
};
const USER_AGENT = `ferry-device/0.1.0 (node ${process.version})`;

interface Waiter {
  resolve(m: ReceivedMessage | null): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout | undefined;
}

export class DeviceClient extends EventEmitter<DeviceClientEvents> {
  readonly deviceId: string;
  readonly transportName: DeviceTransportName;
  private readonly transport: DeviceTransport;
  private readonly retry: RetryPolicy;
  private readonly pollIntervalMs: number;
  private readonly renewInMs: () => number | undefined;
  private currentState: ConnectionState = 'new';
  private opening: Promise<void> | undefined;
  private readonly inbox: ReceivedMessage[] = [];
  private readonly waiters: Waiter[] = [];
  private handler: ((m: ReceivedMessage) => Promise<void> | void) | undefined;
  private handling = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly twin: TwinFollower;
  private readonly methods: MethodDispatcher;
  /** Enables in progress, so that concurrent callers share one subscription. */
  private readonly enabling = new Map<Feature, Promise<void>>();
  /** C2D was enabled (by the first receive or handler); the transport enables it again on every reconnect. */
  private receiving = false;

  private constructor(
    deviceId: string,
    transportName: DeviceTransportName,
    transport: DeviceTransport,
    o: DeviceClientOptions,
    renewInMs: () => number | undefined,
  ) {
    super();
    this.deviceId = deviceId;
    this.transportName = transportName;
    this.transport = transport;
    this.retry = o.retry ?? new ExponentialBackoffWithJitter();
    this.pollIntervalMs = o.pollIntervalMs ?? 1000;
    this.renewInMs = renewInMs;
    this.twin = new TwinFollower({
      enableTwin: () => this.enable('twin'),
      // A request lost with its connection is asked again on the next one (a reported patch merges the same twice).
      request: (operation, body) =>
        this.retried(async () => {
          await this.enable('twin');
          return this.transport.twinRequest!(operation, body);
        }),
    });
    this.methods = new MethodDispatcher({
      enableMethods: () => this.enable('methods'),
      answer: (rid, status, payload) => this.transport.answerMethod!(rid, status, payload),
    });
  }

  /**
   * A client for the device of a connection string (`HostName=...;DeviceId=...;SharedAccessKey=...`).
   * Throws FerryError ArgumentInvalid on a bad string or option. Nothing connects until open() or receive().
   */
  static fromConnectionString(connectionString: string, options: DeviceClientOptions = {}): DeviceClient {
    const cs = parseDeviceConnectionString(connectionString);
    const o = checkOptions(options);
    const tokens = deviceTokenSource(cs, o.tokenLifetimeS);
    const split = splitHostName(cs.gatewayHostName ?? cs.hostName);
    const port =
      o.port ??
      (o.transport === 'mqtt' || o.transport === 'amqp' ? split.port : undefined) ??
      DEFAULT_PORTS[o.transport];
    const common = { host: split.host, port, ca: o.ca, deviceId: cs.deviceId, tokens };
    let transport: DeviceTransport;
    if (o.transport === 'https') transport = new HttpsTransport({ ...common, userAgent: USER_AGENT });
    else if (o.transport === 'amqp' || o.transport === 'amqp-ws') {
      transport = new AmqpTransport({ ...common, websocket: o.transport === 'amqp-ws' });
    } else {
      transport = new MqttTransport({
        ...common,
        hostName: cs.hostName,
        websocket: o.transport === 'mqtt-ws',
        userAgent: USER_AGENT,
        ...(o.keepaliveS ? { keepaliveS: o.keepaliveS } : {}),
      });
    }
    return new DeviceClient(cs.deviceId, o.transport, transport, o, () => tokens.renewInMs());
  }

  private isClosed(): boolean {
    return this.currentState === 'closed';
  }

  /** Runs `op` under the retry policy until it succeeds, the policy gives up, or the client is closed. */
  private retried<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(op, this.retry, realSleep, () => this.isClosed());
  }

  /** @internal Tests drive the client over a fake transport. */
  static fromTransport(deviceId: string, transport: DeviceTransport, options: DeviceClientOptions = {}): DeviceClient {
    return new DeviceClient(deviceId, options.transport ?? 'mqtt', transport, options, () => undefined);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  private setState(state: ConnectionState, error?: FerryError): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit('state', state, error);
  }

  private readonly events: TransportEvents = {
    message: (m) => {
      this.inbox.push(m);
      this.dispatch();
    },
    lost: (err) => this.onLost(err),
    desired: (patch, version) => this.twin.patched(patch, version),
    method: (call) => this.methods.called(call),
  };

  /** Connects, retrying transient failures (C2D is subscribed once the app receives). Rejects with a FerryError (Unauthorized, DeviceNotFound, ...). */
  open(): Promise<void> {
    if (this.currentState === 'closed')
      return Promise.reject(new FerryError('ArgumentInvalid', 'The client is closed'));
    if (this.currentState === 'connected' || this.currentState === 'reconnecting') return Promise.resolve();
    this.opening ??= (async () => {
      this.setState('connecting');
      try {
        await this.connectWithRetry();
        this.setState('connected');
      } catch (err) {
        this.setState('disconnected', err as FerryError);
        throw err;
      } finally {
        this.opening = undefined;
      }
    })();
    return this.opening;
  }

  private async connectWithRetry(): Promise<void> {
    await this.retried(() => this.transport.connect(this.events));
    if (this.currentState === 'closed') {
      await this.transport.close();
      throw new FerryError('ArgumentInvalid', 'The client was closed while connecting');
    }
    this.scheduleRenewal();
    this.askForMessages();
  }

  private onLost(err: FerryError): void {
    if (this.currentState === 'closed' || this.currentState === 'reconnecting') return;
    clearTimeout(this.renewTimer);
    // Their locks died with the connection; the hub delivers them again.
    this.inbox.length = 0;
    this.setState('reconnecting', err);
    this.connectWithRetry().then(
      () => {
        this.setState('connected');
        // The patches sent while the device was away are lost: the whole document makes up for them.
        this.twin.converge().catch(() => undefined);
      },
      (e: unknown) => {
        if (this.currentState === 'closed') return;
        const error = e instanceof FerryError ? e : new FerryError('ServiceUnavailable', String(e), { cause: e });
        this.setState('disconnected', error);
        for (const w of this.waiters.splice(0)) this.settleWaiter(w, error);
      },
    );
  }

  /** Renews the SAS token before it expires: on the open connection (AMQP), or by reconnecting (MQTT). */
  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    const inMs = this.renewInMs();
    if (inMs === undefined) return;
    this.renewTimer = setTimeout(() => {
      this.transport.renewToken().then(
        async (renewed) => {
          if (renewed) this.scheduleRenewal();
          else {
            await this.transport.close();
            this.onLost(new FerryError('IotHubUnauthorized', 'Renewing the SAS token'));
          }
        },
        (err: unknown) =>
          this.onLost(err instanceof FerryError ? err : new FerryError('ServiceUnavailable', String(err))),
      );
    }, inMs);
    this.renewTimer.unref();
  }

  private settleWaiter(w: Waiter, result: ReceivedMessage | null | FerryError): void {
    clearTimeout(w.timer);
    if (result instanceof FerryError) w.reject(result);
    else w.resolve(result);
  }

  /** Hands buffered messages to waiting receive() calls, else to the message handler. */
  private dispatch(): void {
    while (this.inbox.length > 0 && this.waiters.length > 0)
      this.settleWaiter(this.waiters.shift()!, this.inbox.shift()!);
    if (this.handler && !this.handling && this.inbox.length > 0) void this.runHandler();
    this.askForMessages();
  }

  /** AMQP: credit for exactly the messages someone waits for. */
  private askForMessages(): void {
    const wanted = this.waiters.length + (this.handler ? 1 : 0) - this.inbox.length;
    this.transport.wanted?.(Math.max(0, wanted));
  }

  private async runHandler(): Promise<void> {
    this.handling = true;
    try {
      while (this.handler && this.inbox.length > 0) {
        const m = this.inbox.shift()!;
        try {
          await this.handler(m);
        } catch {
          // The handler failed without settling: offer the message again (MQTT: it comes back after a reconnect).
          await this.abandon(m).catch(() => {});
        }
        this.askForMessages();
      }
    } finally {
      this.handling = false;
    }
  }

  /**
   * The next message, or null when none came within `timeoutMs` (HTTPS: when the queue is empty
   * now). The message stays locked until complete(), abandon() or reject(). Opens the client when needed.
   */
  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage | null> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_RECEIVE_TIMEOUT_MS;
    if (this.currentState === 'closed') return null;
    if (this.currentState !== 'connected' && this.currentState !== 'reconnecting') await this.open();
    const poll = this.transport.poll?.bind(this.transport);
    if (poll) return this.retried(poll);
    if (!this.receiving && !(await this.startReceiving())) return null;
    const ready = this.inbox.shift();
    if (ready) return ready;
    return new Promise<ReceivedMessage | null>((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined };
      if (Number.isFinite(timeoutMs)) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(null);
        }, timeoutMs);
      }
      this.waiters.push(w);
      this.askForMessages();
    });
  }

  /**
   * Calls `handler` with each message as it arrives, one at a time; the handler settles the
   * message itself (a handler that throws has its message abandoned). null stops it.
   */
  setMessageHandler(handler: ((m: ReceivedMessage) => Promise<void> | void) | null): void {
    this.handler = handler ?? undefined;
    if (!handler) {
      this.askForMessages();
      return;
    }
    if (this.transport.poll) void this.pollForHandler();
    else {
      this.startReceiving().then(
        (open) => open && this.dispatch(),
        () => {},
      );
    }
  }

  /** Subscribes to C2D, once (MQTT, AMQP); false when the client was closed meanwhile. */
  private async startReceiving(): Promise<boolean> {
    try {
      await this.enable('c2d');
    } catch (err) {
      if (this.isClosed()) return false;
      throw err;
    }
    this.receiving = true;
    return !this.isClosed();
  }

  private async pollForHandler(): Promise<void> {
    if (this.handling) return;
    this.handling = true;
    try {
      while (this.handler && this.currentState !== 'closed') {
        const handler = this.handler;
        const m = await this.receive().catch(() => null);
        if (!m) {
          await realSleep(this.pollIntervalMs);
          continue;
        }
        try {
          await handler(m);
        } catch {
          await this.abandon(m).catch(() => {});
        }
      }
    } finally {
      this.handling = false;
    }
  }

  /** Every message as it arrives, until close(). Settle each one. */
  async *messages(): AsyncGenerator<ReceivedMessage, void, undefined> {
    for (;;) {
      const m = await this.receive({ timeoutMs: Number.POSITIVE_INFINITY });
      if (this.isClosed()) return;
      if (m) yield m;
      else if (this.transport.poll) await realSleep(this.pollIntervalMs);
    }
  }

  private async settle(m: ReceivedMessage | string, how: Settlement): Promise<void> {
    const lockToken = typeof m === 'string' ? m : m.lockToken;
    if (this.transport.poll) {
      // HTTPS locks live in the hub, not in a connection: a transient failure can be retried.
      await this.retried(() => this.transport.settle(lockToken, how));
    } else await this.transport.settle(lockToken, how);
    this.askForMessages();
  }

  /**
   * Done with the message: the hub removes it (and sends Success feedback when asked for).
   * Rejects with DeviceMessageLockLost when the lock expired or the connection that delivered it is gone.
   */
  complete(m: ReceivedMessage | string): Promise<void> {
    return this.settle(m, 'complete');
  }

  /** Puts the message back in the queue for another delivery (delivery count + 1). Not supported by MQTT (NotImplemented). */
  abandon(m: ReceivedMessage | string): Promise<void> {
    return this.settle(m, 'abandon');
  }

  /** Dead-letters the message (Rejected feedback when asked for). Not supported by MQTT (NotImplemented). */
  reject(m: ReceivedMessage | string): Promise<void> {
    return this.settle(m, 'reject');
  }

  /** Resolves once connected (opening the client, or waiting through a reconnect); rejects when that fails. */
  private async ready(): Promise<void> {
    while (this.currentState === 'reconnecting') {
      await new Promise<void>((resolve) => this.once('state', () => resolve()));
    }
    if (this.currentState !== 'connected') await this.open();
  }

  private enable(feature: Feature): Promise<void> {
    let enabling = this.enabling.get(feature);
    if (!enabling) {
      enabling = this.enableOnce(feature).finally(() => this.enabling.delete(feature));
      this.enabling.set(feature, enabling);
    }
    return enabling;
  }

  private async enableOnce(feature: Feature): Promise<void> {
    const enable = this.transport.enable?.bind(this.transport);
    if (!enable) {
      const what = PUSHED[feature];
      throw new FerryError(
        'NotImplemented',
        `${what} need a connection the hub can push to: use the mqtt, mqtt-ws, amqp or amqp-ws transport, not ${this.transportName}`,
      );
    }
    await this.retried(async () => {
      await this.ready();
      await enable(feature);
    });
  }

  /**
   * Sends a telemetry message; resolves once the hub has it durably (MQTT PUBACK, AMQP accepted,
   * HTTPS 204). Rejects with the hub's error: MessageTooLarge (over 256 KB), IotHubUnauthorizedAccess,
   * ... Transient failures are retried, so a message the hub took just before a connection broke may arrive twice.
   */
  sendEvent(message: EventMessage): Promise<void> {
    return this.sendEventBatch([message]);
  }

  /**
   * Sends several telemetry messages: over AMQP and HTTPS as one batch the hub takes or refuses
   * whole; over MQTT one PUBLISH each, resolving when all are acknowledged. Over HTTPS a batch
   * carries body and application properties only (IoT Hub's format).
   */
  async sendEventBatch(messages: EventMessage[]): Promise<void> {
    if (!Array.isArray(messages))
      throw new FerryError('ArgumentInvalid', 'sendEventBatch() takes an array of messages');
    const events = messages.map(toOutgoingEvent);
    if (events.length === 0) return;
    if (this.isClosed()) throw new FerryError('ArgumentInvalid', 'The client is closed');
    await this.retried(async () => {
      await this.ready();
      await this.transport.sendEvents(events);
    });
  }

  /** The device's twin: desired and reported properties with their `$version`s. MQTT and AMQP only. */
  getTwin(): Promise<DeviceTwin> {
    return this.twin.get();
  }

  /** Merges `patch` into the reported properties (null deletes one); resolves with their new `$version`. */
  updateReportedProperties(patch: TwinProperties): Promise<number> {
    return this.twin.updateReported(patch);
  }

  /**
   * Calls `handler` with the whole desired document at once (`full: true`), then with each desired
   * patch as the back end makes it, one at a time, in order; after a reconnect with the whole
   * document again. Resolves once the device follows its desired properties. null stops it.
   */
  onDesiredPropertiesUpdate(handler: DesiredHandler | null): Promise<void> {
    return this.twin.follow(handler);
  }

  /**
   * Answers direct method `methodName` with `handler`'s `{ status, payload }`; resolves once the
   * hub sends this device its calls. A method without a handler is answered 501, a handler that
   * throws 500. null removes the handler. MQTT and AMQP only.
   */
  onMethod(methodName: string, handler: MethodHandler | null): Promise<void> {
    return this.methods.on(methodName, handler);
  }

  /** Answers every method that has no handler of its own with `handler` (null removes it). MQTT and AMQP only. */
  setMethodDefaultHandler(handler: MethodHandler | null): Promise<void> {
    return this.methods.onAny(handler);
  }

  /** Closes the connection; pending receive() calls resolve with null. Unsettled messages are offered again by the hub. */
  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    this.setState('closed');
    this.handler = undefined;
    clearTimeout(this.renewTimer);
    for (const w of this.waiters.splice(0)) this.settleWaiter(w, null);
    this.inbox.length = 0;
    await this.transport.close();
  }
}
