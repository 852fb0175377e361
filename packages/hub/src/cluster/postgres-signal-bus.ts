/**
 * The SignalBus of several nodes on one PostgreSQL database: LISTEN on a dedicated connection
 * (one channel per hub schema), reconnecting with back-off when it drops. C2D wake-ups need no
 * sending here: ferry_commit NOTIFYs the devices it woke inside its transaction, so other nodes
 * hear of committed work only. Registry changes and connection claims are sent through the pool.
 *
 * Payload: "<node>|<kind>|<rest>", where kind is w (device wake, rest = device id), f (feedback),
 * c (device changed), m / a (MQTT / AMQP connection claimed, rest = "<ms>|<device id>"). Device
 * ids never contain "|". A node ignores its own payloads: it already acted on them locally.
 */
import { EventEmitter } from 'node:events';
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
}

const CHANGE = 'change';
const CONNECTION = 'connection';
const WAKE = 'wake';

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

  publishDeviceChange(deviceId: string): void {
    this.send(`c|${deviceId}`);
  }

  onRemoteDeviceChange(fn: (deviceId: string) => void): () => void {
    return this.on(CHANGE, fn);
  }

  publishConnection(protocol: ConnectionProtocol, deviceId: string, at: number): void {
    this.send(`${protocol === 'mqtt' ? 'm' : 'a'}|${at}|${deviceId}`);
  }

  onRemoteConnection(fn: (protocol: ConnectionProtocol, deviceId: string, at: number) => void): () => void {
    return this.on(CONNECTION, fn);
  }

  onRemoteWake(fn: (deviceId: string) => void): () => void {
    return this.on(WAKE, fn);
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
    pool.query('SELECT pg_notify($1, $2)', [channel, `${nodeId}|${body}`]).catch((err: unknown) => {
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
    this.markListening();
  }

  private receive(payload: string): void {
    const first = payload.indexOf('|');
    const second = payload.indexOf('|', first + 1);
    if (first < 0 || second < 0 || payload.slice(0, first) === this.options.nodeId) return;
    const kind = payload.slice(first + 1, second);
    const rest = payload.slice(second + 1);
    if (kind === 'w') {
      this.local.notifyDevice(rest);
      this.remote.emit(WAKE, rest);
    } else if (kind === 'f') this.local.notifyFeedback();
    else if (kind === 'c') this.remote.emit(CHANGE, rest);
    else if (kind === 'm' || kind === 'a') {
      const bar = rest.indexOf('|');
      const at = Number(rest.slice(0, bar));
      if (bar > 0 && Number.isFinite(at))
        this.remote.emit(CONNECTION, kind === 'm' ? 'mqtt' : 'amqp', rest.slice(bar + 1), at);
    }
  }

  /** The LISTEN connection dropped: reconnect with back-off; afterwards wake every listener, as signals were missed. */
  private lost(client: pg.Client, err: Error | undefined): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
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
