/**
 * ServiceClient: the back end's side of cloud-to-device messaging against Ferry or Azure IoT Hub.
 * send() and feedback() use AMQP as azure-iothub does (official-sdk-wire.md D.1); purge, the
 * one-shot receiveFeedback() and the registry use the REST API. Transient failures are retried
 * by the retry policy; permanent ones are raised at once as FerryErrors with IoT Hub's code.
 */
import { randomUUID } from 'node:crypto';
import {
  ACK_VALUES,
  type Ack,
  amqpFromMessage,
  FerryError,
  headerReader,
  lockTokenFromEtag,
  parseHubConnectionString,
  parseTime,
} from '@ferry/common';
import {
  type AmqpConnection,
  connectionLost,
  dataMessage,
  ExponentialBackoffWithJitter,
  errorFromAmqp,
  type HttpsTarget,
  httpsCall,
  ok,
  type RetryPolicy,
  realSleep,
  serviceTokenSource,
  splitHostName,
  type TokenSource,
  withRetry,
} from '@ferry/common/client';
import type { Delivery, Sender } from 'rhea';
import { ServiceConnection } from './amqp-link.js';
import { type ReadEventsOptions, readEvents, type TelemetryEvent } from './event-reader.js';
import { type FeedbackBatch, type FeedbackSource, feedbackBatches, parseRecords } from './feedback.js';
import { JobClient } from './jobs.js';
import {
  type DeadLetter,
  deleteDeadLetter,
  listDeadLetters,
  type MessageHistory,
  messageHistory,
  requeueDeadLetter,
} from './message-inspection.js';
import { invokeMethod, type MethodParams, type MethodResult } from './methods.js';
import { checkOptions, type ServiceClientOptions } from './options.js';
import { RegistryClient } from './registry.js';

/** A message to send. Only `body` is required; what is not set is not sent. */
export interface SendMessage {
  body: Buffer | Uint8Array | string;
  /** Default: a new UUID (feedback records name messages by it). */
  messageId?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Feedback wanted: 'none' (the hub's default), 'positive', 'negative' or 'full'. */
  ack?: Ack;
  /** Absolute expiry (Date or ms since the epoch); default the hub's (1 hour). */
  expiry?: Date | number;
  /** Expiry as ms from now (instead of `expiry`). */
  ttlMs?: number;
  /** Application properties. */
  properties?: Record<string, string>;
}

export interface SendResult {
  messageId: string;
}

interface Pending {
  resolve(): void;
  reject(err: FerryError): void;
}

const DEVICEBOUND = '/messages/devicebound';
const FEEDBACK = '/messages/serviceBound/feedback';

export class ServiceClient {
  /** The device registry (REST). */
  readonly registry: RegistryClient;
  /** Jobs over a query's devices (REST, docs/jobs.md). */
  readonly jobs: JobClient;
  private readonly amqp: ServiceConnection;
  private readonly rest: HttpsTarget;
  private readonly tokens: TokenSource;
  private readonly retry: RetryPolicy;
  private sender: { connection: AmqpConnection; link: Promise<Sender> } | undefined;
  private readonly inflight = new Map<Delivery, Pending>();
  private readonly sendableWaiters = new Set<() => void>();
  private readonly linkErrors = new WeakMap<Sender, FerryError>();
  private readonly wakers = new Set<() => void>();
  private closed = false;

  private constructor(
    host: string,
    amqpPort: number,
    websocket: boolean,
    o: ServiceClientOptions,
    tokens: TokenSource,
  ) {
    this.tokens = tokens;
    this.retry = o.retry ?? new ExponentialBackoffWithJitter();
    this.rest = { host, port: o.httpsPort ?? 443, ca: o.ca };
    this.registry = new RegistryClient(this.rest, tokens, this.retry);
    this.jobs = new JobClient(this.rest, tokens, this.retry);
    this.amqp = new ServiceConnection(
      { host, port: amqpPort, websocket, ca: o.ca, audience: tokens.audience, token: () => tokens.token() },
      () => tokens.renewInMs(),
    );
    this.amqp.onLost((c, err) => {
      if (this.sender?.connection === c) this.sender = undefined;
      for (const p of this.inflight.values()) p.reject(connectionLost(host, err));
      this.inflight.clear();
      for (const wake of [...this.sendableWaiters, ...this.wakers]) wake();
    });
  }

  /**
   * A client for a shared access policy's connection string (`HostName=...;SharedAccessKeyName=...;SharedAccessKey=...`).
   * Throws FerryError ArgumentInvalid on a bad string or option. Nothing connects until first used.
   */
  static fromConnectionString(connectionString: string, options: ServiceClientOptions = {}): ServiceClient {
    const cs = parseHubConnectionString(connectionString);
    const o = checkOptions(options);
    const split = splitHostName(cs.hostName);
    const websocket = o.transport === 'amqp-ws';
    const port = o.port ?? (websocket ? 443 : (split.port ?? 5671));
    return new ServiceClient(split.host, port, websocket, o, serviceTokenSource(cs, o.tokenLifetimeS));
  }

  /** Opens the AMQP connection now (send and feedback open it when needed). */
  async open(): Promise<void> {
    await withRetry(
      () => this.amqp.get(),
      this.retry,
      realSleep,
      () => this.closed,
    );
  }

  private link(): Promise<Sender> {
    return this.amqp.get().then((connection) => {
      if (this.sender?.connection === connection) return this.sender.link;
      const link = connection.openSender({ target: { address: DEVICEBOUND } }).then((sender) => {
        const settle = (delivery: Delivery, err?: FerryError) => {
          const p = this.inflight.get(delivery);
          if (!p) return;
          this.inflight.delete(delivery);
          if (err) p.reject(err);
          else p.resolve();
        };
        sender.on('accepted', (ctx) => settle(ctx.delivery!));
        sender.on('rejected', (ctx) => {
          const error = (ctx.delivery!.remote_state as { error?: { condition?: unknown; description?: unknown } })
            .error;
          settle(
            ctx.delivery!,
            errorFromAmqp(error ?? { condition: 'amqp:internal-error', description: 'Rejected without a reason' }),
          );
        });
        const busy = (ctx: { delivery?: Delivery }) =>
          settle(
            ctx.delivery!,
            new FerryError('ServiceUnavailable', 'The hub released the message; it was not queued'),
          );
        sender.on('released', busy);
        sender.on('modified', busy);
        sender.on('sendable', () => {
          for (const wake of this.sendableWaiters) wake();
        });
        sender.on('sender_close', (ctx) => {
          // The hub detached the link (e.g. the policy lacks ServiceConnect): say why to whoever waits on it.
          const err = errorFromAmqp(
            ctx.sender?.error ?? { condition: 'amqp:link:detach-forced', description: 'The hub closed the send link' },
          );
          this.linkErrors.set(sender, err);
          if (this.sender?.connection === connection) this.sender = undefined;
          for (const [delivery, p] of this.inflight) {
            if (delivery.link === sender) {
              this.inflight.delete(delivery);
              p.reject(err);
            }
          }
          for (const wake of this.sendableWaiters) wake();
        });
        return sender;
      });
      this.sender = { connection, link };
      link.catch(() => {
        if (this.sender?.link === link) this.sender = undefined;
      });
      return link;
    });
  }

  private async transfer(sender: Sender, message: object, body: Buffer): Promise<void> {
    while (!sender.sendable()) {
      const linkError = this.linkErrors.get(sender);
      if (linkError) throw linkError;
      if (!sender.is_open()) throw connectionLost(this.rest.host);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.sendableWaiters.delete(wake);
          resolve();
        };
        this.sendableWaiters.add(wake);
      });
      if (this.closed) throw new FerryError('ArgumentInvalid', 'The client is closed');
    }
    const delivery = sender.send(dataMessage(message, body));
    await new Promise<void>((resolve, reject) => this.inflight.set(delivery, { resolve, reject }));
  }

  /**
   * Queues a message for a device; resolves when the hub has accepted it. Rejects with DeviceNotFound,
   * DeviceMaximumQueueDepthExceeded, MessageTooLarge, InvalidMessageExpiryTime, ArgumentInvalid or
   * IotHubUnauthorizedAccess at once; transient failures are retried (so a message the hub took just
   * before the connection broke may be queued twice).
   */
  async send(deviceId: string, message: SendMessage): Promise<SendResult> {
    if (typeof deviceId !== 'string' || deviceId === '')
      throw new FerryError('ArgumentNull', 'send() needs a device id');
    if (message.ack !== undefined && !ACK_VALUES.includes(message.ack)) {
      throw new FerryError(
        'ArgumentInvalid',
        `ack must be one of ${ACK_VALUES.join(', ')}; got "${String(message.ack)}"`,
      );
    }
    if (message.expiry !== undefined && message.ttlMs !== undefined) {
      throw new FerryError('ArgumentInvalid', 'Give expiry or ttlMs, not both');
    }
    const expiry =
      message.ttlMs !== undefined
        ? Date.now() + message.ttlMs
        : message.expiry instanceof Date
          ? message.expiry.getTime()
          : message.expiry;
    const messageId = message.messageId ?? randomUUID();
    const fields = amqpFromMessage(deviceId, {
      messageId,
      correlationId: message.correlationId,
      userId: message.userId,
      contentType: message.contentType,
      contentEncoding: message.contentEncoding,
      ack: message.ack,
      expiryTimeUtc: expiry,
      properties: message.properties ?? {},
    });
    const body = typeof message.body === 'string' ? Buffer.from(message.body, 'utf8') : Buffer.from(message.body);
    await withRetry(
      async () => this.transfer(await this.link(), fields, body),
      this.retry,
      realSleep,
      () => this.closed,
    );
    return { messageId };
  }

  /**
   * Feedback batches as they come, until close() (AMQP; survives reconnects). Complete each
   * batch, or the hub offers it again when its lock expires.
   */
  feedback(): AsyncGenerator<FeedbackBatch, void, undefined> {
    return feedbackBatches(this.linkSource());
  }

  /**
   * Device-to-cloud telemetry from the hub's built-in Event Hubs-compatible endpoint (AMQP), from
   * `from` ('earliest', 'latest' (the default), a Date or { sequenceNumber }) on every partition
   * or those given, with `consumerGroup` ($Default by default). Ends when the client closes or
   * the loop breaks; resumes after a lost connection; throws NotFound for an unknown consumer
   * group and IotHubUnauthorizedAccess without ServiceConnect.
   */
  readEvents(options: ReadEventsOptions = {}): AsyncGenerator<TelemetryEvent, void, undefined> {
    return readEvents(this.linkSource(), options);
  }

  /** What the feedback and event iterators use: the retried connection, wake-ups on loss and close. */
  private linkSource(): FeedbackSource {
    return {
      connection: () =>
        withRetry(
          () => this.amqp.get(),
          this.retry,
          realSleep,
          () => this.closed,
        ),
      retry: this.retry,
      isClosed: () => this.closed,
      onWake: (wake) => {
        this.wakers.add(wake);
        return () => this.wakers.delete(wake);
      },
      host: this.rest.host,
    };
  }

  private call(method: string, path: string) {
    return withRetry(
      () => httpsCall(this.rest, { method, path, authorization: this.tokens.token() }).then(ok),
      this.retry,
      realSleep,
      () => this.closed,
    );
  }

  /** One feedback batch over REST, or null when none is waiting. */
  async receiveFeedback(): Promise<FeedbackBatch | null> {
    const reply = await this.call('GET', FEEDBACK);
    if (reply.status === 204) return null;
    const read = headerReader(reply.headers);
    const lockToken = lockTokenFromEtag(read('etag'));
    if (!lockToken) throw new FerryError('ServerError', 'The hub sent a feedback batch without an ETag (lock token)');
    const path = `${FEEDBACK}/${encodeURIComponent(lockToken)}`;
    const enqueued = parseTime(read('iothub-enqueuedtime'));
    return {
      records: parseRecords(reply.body),
      ...(enqueued !== undefined ? { enqueuedTimeUtc: enqueued } : {}),
      lockToken,
      complete: async () => {
        await this.call('DELETE', path);
      },
      abandon: async () => {
        await this.call('POST', `${path}/abandon`);
      },
    };
  }

  /** Deletes every message queued for the device, locked ones included; resolves with the count. */
  async purgeMessageQueue(deviceId: string): Promise<{ deviceId: string; totalMessagesPurged: number }> {
    if (typeof deviceId !== 'string' || deviceId === '')
      throw new FerryError('ArgumentNull', 'purgeMessageQueue() needs a device id');
    const reply = await this.call('DELETE', `/devices/${encodeURIComponent(deviceId)}/commands`);
    const json = JSON.parse(reply.body.toString('utf8')) as { totalMessagesPurged?: number };
    return { deviceId, totalMessagesPurged: json.totalMessagesPurged ?? 0 };
  }

  /**
   * Calls direct method `methodName` on the device and resolves with its `{ status, payload }`.
   * Rejects with DeviceNotOnline (404103) when the device has not subscribed to methods (within
   * `connectTimeoutInSeconds`), GatewayTimeout (504101) when it did not answer within
   * `responseTimeoutInSeconds`, DeviceNotFound, ArgumentInvalid, MessageTooLarge (payload over
   * 128 KB). Never retried: the device may have acted on a call whose answer was lost.
   */
  invokeMethod(deviceId: string, params: MethodParams): Promise<MethodResult> {
    return invokeMethod(this.rest, this.tokens, deviceId, params);
  }

  /**
   * Ferry extension: the device's kept dead letters (rejected, expired, abandoned too often or
   * purged messages), oldest first, at most `top` (1 to 1000, default 100). DeviceNotFound for an
   * unknown device. Not on Azure IoT Hub.
   */
  listDeadLetters(deviceId: string, top?: number): Promise<DeadLetter[]> {
    return listDeadLetters((m, p) => this.call(m, p), deviceId, top);
  }

  /**
   * Ferry extension: puts a dead letter back at the tail of the device's queue as a new message
   * (delivery count 0, a fresh expiry) and resolves with its new sequence number. NotFound when
   * there is no such dead letter, DeviceMaximumQueueDepthExceeded when the queue is full (it is
   * kept then). Never retried: a lost answer may have requeued it.
   */
  requeueDeadLetter(deviceId: string, sequenceNumber: number): Promise<number> {
    return requeueDeadLetter((m, p) => this.once(m, p), deviceId, sequenceNumber);
  }

  /** Ferry extension: removes a dead letter; NotFound when there is none. Never retried. */
  deleteDeadLetter(deviceId: string, sequenceNumber: number): Promise<void> {
    return deleteDeadLetter((m, p) => this.once(m, p), deviceId, sequenceNumber);
  }

  /**
   * Ferry extension: every step of the device's messages with this message id, kept until
   * c2d.historyRetentionMs after each ended: enqueued, each delivery (protocol, lock token), each
   * abandon, the end, and the feedback record made. DeviceNotFound for an unknown device.
   */
  messageHistory(deviceId: string, messageId: string): Promise<MessageHistory> {
    return messageHistory((m, p) => this.call(m, p), deviceId, messageId);
  }

  /** One REST call without retries (for what a lost answer may have done). */
  private once(method: string, path: string) {
    return httpsCall(this.rest, { method, path, authorization: this.tokens.token() }).then(ok);
  }

  /** Closes the connection; feedback() iterators end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.sendableWaiters, ...this.wakers]) wake();
    for (const p of this.inflight.values()) p.reject(new FerryError('ServiceUnavailable', 'The client was closed'));
    this.inflight.clear();
    await this.amqp.close();
  }
}
