/**
 * The SignalBus of several nodes on one PostgreSQL database: LISTEN on a dedicated connection
 * (one channel per hub schema), reconnecting with back-off when it drops. C2D wake-ups need no
 * sending here: ferry_commit NOTIFYs the devices it woke inside its transaction, so other nodes
 * hear of committed work only. Registry changes and connection claims are sent through the pool.
 *
 * Payload: "<node>|<kind>|<rest>", where kind is w (device wake, rest = device id), f (feedback),
 * c (device changed), t (twin changed, rest = device id), x (CA certificates changed, rest
 * empty), e (telemetry committed, rest = the partitions, comma-separated), m / a (MQTT / AMQP connection claimed, rest = "<ms>|<device id>"), h
 * (heartbeat, rest = a sequence number), q (a direct method call waits, rest = "<call id>|<device
 * id>"), r (a call was answered, rest = "<origin node>|<call id>"; the relay's SQL sends q and r), b
 * (feedback records committed, rest = a JSON array of them, several payloads when they are many). Device ids never contain "|". A node ignores its own
 * payloads, heartbeats aside: it already acted on them locally.
 *
 * Missed wake-ups would leave a waiting device without its message, so the LISTEN connection is
 * checked end to end: every heartbeatMs the node NOTIFYs a heartbeat through the pool, and when one
 * the database accepted has not come back on its LISTEN connection by the next, that connection is
 * taken for lost (a heartbeat the pool could not send yet, as when it is busy, proves nothing; a
 * half-open TCP connection can otherwise go unnoticed for hours). Once a lost connection is back,
 * every listener and waiting receiver is woken to read the store again.
 */
import { EventEmitter } from 'node:events';
import type { FeedbackRecord } from '@ferry/common';
import pg from 'pg';
import type { Logger } from 'pino';
import { InProcessSignalBus } from './in-process-signal-bus.js';
import type { ClusterEvents, ConnectionProtocol, SignalBus } from './signal-bus.js';

export interface PostgresSignalBusOptions {
  url: string;
  channel: string;
  nodeId: string;
  /** Sends the NOTIFYs of registry changes and connection claims. */
  pool: pg.Pool;
  logger: Logger;
  /** First reconnect delay (doubles up to maxRetryMs). */
  retryMs?: number;
  maxRetryMs?: number;
  /** How often the LISTEN connection is checked with a heartbeat (ms; default 15 s). */
  heartbeatMs?: number;
}

const CHANGE = 'change';
const CA_CHANGE = 'ca-change';
const CONNECTION = 'connection';
const WAKE = 'wake';
const MISSED = 'missed';
const EVENTS = 'events';
const METHOD_CALL = 'method-call';
const METHOD_ANSWER = 'method-answer';
const FEEDBACK_RECORDS = 'feedback-records';
/** PostgreSQL refuses a NOTIFY payload of 8000 bytes or more; records are sent in arrays below this. */
const MAX_RECORDS_PAYLOAD = 7000;
const NOTIFY = 'SELECT pg_notify($1, $2)';
/** unnest reads the array in order, so the payloads are notified in it. */
const NOTIFY_EACH = 'SELECT count(pg_notify($1, p)) FROM unnest($2::text[]) AS p';

export class PostgresSignalBus implements SignalBus, ClusterEvents {
  private readonly local: InProcessSignalBus;
  private readonly remote = new EventEmitter();
  private client: pg.Client | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs: number;
  private closed = false;
  /** Resolves once a LISTEN is in place (tests wait on it after a server restart). */
  private listening: Promise<void>;
  private markListening: () => void = () => {};
  private heartbeat: NodeJS.Timeout | undefined;
  /** Heartbeats numbered from 1: the last sent, the last the database accepted, the last heard on LISTEN. */
  private heartbeatSeq = 0;
  private heartbeatAccepted = 0;
  private heartbeatHeard = 0;
  /** Partitions with telemetry committed this turn, sent in one NOTIFY on the next. */
  private readonly pendingPartitions = new Set<number>();
  /** Feedback records committed this turn, sent on the next. */
  private pendingRecords: FeedbackRecord[] = [];

  constructor(private readonly options: PostgresSignalBusOptions) {
    this.local = new InProcessSignalBus((err) => options.logger.error({ err }, 'signal listener threw'));
    this.remote.setMaxListeners(0);
    this.retryMs = options.retryMs ?? 250;
    this.listening = new Promise((resolve) => {
      this.markListening = resolve;
    });
  }

  /** Connects and listens; rejects when the first connection fails (the hub does not start). */
  async start(): Promise<void> {
    await this.connect();
  }

  /** Resolves when the bus is listening (at once unless it is reconnecting). */
  whenListening(): Promise<void> {
    return this.listening;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  notifyDevice(deviceId: string): void {
    this.local.notifyDevice(deviceId);
  }

  onDevice(deviceId: string, fn: () => void): () => void {
    return this.local.onDevice(deviceId, fn);
  }

  notifyFeedback(): void {
    this.local.notifyFeedback();
  }

  onFeedback(fn: () => void): () => void {
    return this.local.onFeedback(fn);
  }

  notifyTwin(deviceId: string): void {
    this.local.notifyTwin(deviceId);
    this.send(`t|${deviceId}`);
  }

  onTwin(deviceId: string, fn: () => void): () => void {
    return this.local.onTwin(deviceId, fn);
  }

  publishDeviceChange(deviceId: string): void {
    this.send(`c|${deviceId}`);
  }

  onRemoteDeviceChange(fn: (deviceId: string) => void): () => void {
    return this.on(CHANGE, fn);
  }

  publishCaChange(): void {
    this.send('x|');
  }

  onRemoteCaChange(fn: () => void): () => void {
    return this.on(CA_CHANGE, fn);
  }

  publishConnection(protocol: ConnectionProtocol, deviceId: string, at: number): void {
    this.send(`${protocol === 'mqtt' ? 'm' : 'a'}|${at}|${deviceId}`);
  }

  onRemoteConnection(fn: (protocol: ConnectionProtocol, deviceId: string, at: number) => void): () => void {
    return this.on(CONNECTION, fn);
  }

  publishEvents(partition: number): void {
    if (this.pendingPartitions.size === 0) setImmediate(() => this.flushEvents());
    this.pendingPartitions.add(partition);
  }

  onRemoteEvents(fn: (partition: number) => void): () => void {
    return this.on(EVENTS, fn);
  }

  private flushEvents(): void {
    const partitions = [...this.pendingPartitions];
    this.pendingPartitions.clear();
    if (partitions.length > 0 && !this.closed) this.send(`e|${partitions.join(',')}`);
  }

  publishFeedbackRecords(records: readonly FeedbackRecord[]): void {
    if (records.length === 0) return;
    if (this.pendingRecords.length === 0) setImmediate(() => this.flushRecords());
    this.pendingRecords.push(...records);
  }

  onRemoteFeedbackRecords(fn: (records: readonly FeedbackRecord[]) => void): () => void {
    return this.on(FEEDBACK_RECORDS, fn);
  }

  private flushRecords(): void {
    const records = this.pendingRecords;
    this.pendingRecords = [];
    if (this.closed) return;
    const { pool, channel, nodeId, logger } = this.options;
    const payloads = recordPayloads(records).map((chunk) => `${nodeId}|b|${chunk}`);
    // One statement: its NOTIFYs are delivered in order (separate pool queries may overtake each other).
    pool.query(NOTIFY_EACH, [channel, payloads]).catch((err: unknown) => {
      logger.warn({ err, records: records.length }, 'could not send feedback records to the other nodes');
    });
  }

  /** The NOTIFY (channel and payload) of a method call waiting: the relay sends it in the statement that inserts the call. */
  methodCallNotice(callId: string, deviceId: string): { channel: string; payload: string } {
    return { channel: this.options.channel, payload: `${this.options.nodeId}|q|${callId}|${deviceId}` };
  }

  /** The start of an answer's NOTIFY payload; the relay's SQL appends "<origin node>|<call id>". */
  methodAnswerNotice(): { channel: string; payload: string } {
    return { channel: this.options.channel, payload: `${this.options.nodeId}|r|` };
  }

  /** A method call inserted by another node waits for the node holding the device. */
  onMethodCall(fn: (callId: string, deviceId: string) => void): () => void {
    return this.on(METHOD_CALL, fn);
  }

  /** Another node answered a call this node inserted. */
  onMethodAnswer(fn: (callId: string) => void): () => void {
    return this.on(METHOD_ANSWER, fn);
  }

  onRemoteWake(fn: (deviceId: string) => void): () => void {
    return this.on(WAKE, fn);
  }

  onSignalsMissed(fn: () => void): () => void {
    return this.on(MISSED, fn);
  }

  /** Whether the LISTEN connection is up (false while it reconnects). */
  get listeningNow(): boolean {
    return this.client !== undefined;
  }

  private on<A extends unknown[]>(event: string, fn: (...args: A) => void): () => void {
    const safe = (...args: unknown[]) => {
      try {
        fn(...(args as A));
      } catch (err) {
        this.options.logger.error({ err }, 'cluster event listener threw');
      }
    };
    this.remote.on(event, safe);
    return () => void this.remote.off(event, safe);
  }

  private send(body: string): void {
    const { pool, channel, nodeId, logger } = this.options;
    pool.query(NOTIFY, [channel, `${nodeId}|${body}`]).catch((err: unknown) => {
      // Signals are best effort: a node that misses one still sees the store's state on its next read.
      logger.warn({ err }, 'could not send a cluster signal');
    });
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.url,
      keepAlive: true,
      // Names the connection in pg_stat_activity: one LISTEN connection per node.
      application_name: `ferry-signals-${this.options.nodeId}`.slice(0, 63),
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, undefined));
    client.on('notification', (n) => {
      if (n.channel === this.options.channel && n.payload) this.receive(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.options.channel}"`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.client = client;
    this.retryMs = this.options.retryMs ?? 250;
    // Heartbeats sent before this connection do not count for it: accepted late, they change nothing.
    this.heartbeatAccepted = this.heartbeatHeard = this.heartbeatSeq;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.beat(client), this.options.heartbeatMs ?? 15_000).unref();
    this.markListening();
  }

  /** Sends a heartbeat through the pool; one accepted and not heard back means the LISTEN connection is lost. */
  private beat(client: pg.Client): void {
    if (this.client !== client) return;
    if (this.heartbeatAccepted > this.heartbeatHeard) {
      this.lost(client, new Error(`heartbeat ${this.heartbeatAccepted} was NOTIFYed but never came back on LISTEN`));
      return;
    }
    const seq = ++this.heartbeatSeq;
    const { pool, channel, nodeId } = this.options;
    pool.query(NOTIFY, [channel, `${nodeId}|h|${seq}`]).then(
      () => {
        this.heartbeatAccepted = Math.max(this.heartbeatAccepted, seq);
      },
      // Not sent (the database is unreachable through the pool too): that proves nothing about LISTEN.
      () => undefined,
    );
  }

  private receive(payload: string): void {
    const first = payload.indexOf('|');
    const second = payload.indexOf('|', first + 1);
    if (first < 0 || second < 0) return;
    const kind = payload.slice(first + 1, second);
    const rest = payload.slice(second + 1);
    if (payload.slice(0, first) === this.options.nodeId) {
      if (kind === 'h') this.heartbeatHeard = Math.max(this.heartbeatHeard, Number(rest) || 0);
      return;
    }
    if (kind === 'w') {
      this.local.notifyDevice(rest);
      this.remote.emit(WAKE, rest);
    } else if (kind === 'f') this.local.notifyFeedback();
    else if (kind === 'c') this.remote.emit(CHANGE, rest);
    else if (kind === 't') this.local.notifyTwin(rest);
    else if (kind === 'x') this.remote.emit(CA_CHANGE);
    else if (kind === 'e') {
      for (const p of rest.split(',')) {
        const partition = Number(p);
        if (p !== '' && Number.isInteger(partition) && partition >= 0) this.remote.emit(EVENTS, partition);
      }
    } else if (kind === 'b') {
      const records = parseRecords(rest);
      if (records) this.remote.emit(FEEDBACK_RECORDS, records);
    } else if (kind === 'q' || kind === 'r') {
      const bar = rest.indexOf('|');
      if (bar <= 0) return;
      if (kind === 'q') this.remote.emit(METHOD_CALL, rest.slice(0, bar), rest.slice(bar + 1));
      else if (rest.slice(0, bar) === this.options.nodeId) this.remote.emit(METHOD_ANSWER, rest.slice(bar + 1));
    } else if (kind === 'm' || kind === 'a') {
      const bar = rest.indexOf('|');
      const at = Number(rest.slice(0, bar));
      if (bar > 0 && Number.isFinite(at))
        this.remote.emit(CONNECTION, kind === 'm' ? 'mqtt' : 'amqp', rest.slice(bar + 1), at);
    }
  }

  /** The LISTEN connection dropped: reconnect with back-off; afterwards wake every listener and waiting receiver, as signals were missed. */
  private lost(client: pg.Client, err: Error | undefined): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.listening = new Promise((resolve) => {
      this.markListening = resolve;
    });
    this.options.logger.warn({ err }, 'cluster signal connection lost; reconnecting');
    client.end().catch(() => {});
    const retry = () => {
      this.retryTimer = undefined;
      if (this.closed) return;
      this.connect().then(
        () => {
          this.options.logger.info('cluster signal connection restored');
          this.local.wakeAll();
          this.remote.emit(MISSED);
        },
        (e: unknown) => {
          this.options.logger.debug({ err: e }, 'cluster signal reconnect failed');
          this.retryMs = Math.min(this.retryMs * 2, this.options.maxRetryMs ?? 5000);
          this.retryTimer = setTimeout(retry, this.retryMs).unref();
        },
      );
    };
    this.retryTimer = setTimeout(retry, this.retryMs).unref();
  }
}

/** JSON arrays of the records, each below MAX_RECORDS_PAYLOAD bytes (a record too big alone is left out). */
function recordPayloads(records: readonly FeedbackRecord[]): string[] {
  const payloads: string[] = [];
  let items: string[] = [];
  let bytes = 2;
  for (const r of records) {
    const item = JSON.stringify(r);
    const size = Buffer.byteLength(item) + 1;
    if (size + 2 > MAX_RECORDS_PAYLOAD) continue;
    if (bytes + size > MAX_RECORDS_PAYLOAD) {
      payloads.push(`[${items.join(',')}]`);
      items = [];
      bytes = 2;
    }
    items.push(item);
    bytes += size;
  }
  if (items.length > 0) payloads.push(`[${items.join(',')}]`);
  return payloads;
}

function parseRecords(text: string): FeedbackRecord[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? (value as FeedbackRecord[]) : undefined;
  } catch {
    return undefined;
  }
}
