/**
 * The telemetry domain: device-to-cloud messages into the partitioned event log, and what readers
 * of the built-in endpoint ask of it. Protocol-free: gateways hand it TelemetryMessages and the
 * sending device; it checks them, enriches them, appends them through group commit (answered only
 * once durable), wakes readers (on this node and, through the cluster, on the others), and runs
 * retention on a timer without holding up senders.
 */
import { FerryError } from '@ferry/common';
import pino, { type Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Registry } from '../registry/types.js';
import type {
  EventLogStore,
  EventPosition,
  EventSeek,
  NewEvent,
  PartitionInfo,
  StoredEvent,
} from '../store/event-log.js';
import { AppendBatcher } from './append-batcher.js';
import { checkTelemetrySize, toEvent } from './enrichment.js';
import { partitionOf } from './partition.js';
import type { TelemetryConfig, TelemetryMessage, TelemetrySender } from './types.js';

export const DEFAULT_CONSUMER_GROUP = '$Default';
/** Event Hubs' rule for consumer group names. */
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,49}$/;
/** Events one retention pass deletes per partition and transaction, so senders wait for none long. */
const TRIM_BATCH = 5000;
/** Generation ids kept for enrichment; past this the cache starts over. */
const GENERATION_CACHE = 100_000;

export interface TelemetryOptions {
  store: EventLogStore;
  registry: Pick<Registry, 'identity' | 'onDeviceChange'>;
  clock: Clock;
  config: TelemetryConfig;
  logger?: Logger;
  /** Several nodes: tell the others a partition has new events, and hear theirs. */
  cluster?: {
    publishEvents(partition: number): void;
    onRemoteEvents(fn: (partition: number) => void): () => void;
    /** Signals from the others may have been missed: every partition is read again. */
    onSignalsMissed(fn: () => void): () => void;
  };
}

/** What was accepted, for metrics. */
export type IngestListener = (accepted: number, bytes: number) => void;

export class Telemetry {
  readonly partitions: number;
  /** When this hub's built-in endpoint came up (the `$management` `created_at`). */
  readonly createdAt: number;
  private readonly store: EventLogStore;
  private readonly clock: Clock;
  private readonly config: TelemetryConfig;
  private readonly logger: Logger;
  private readonly batcher: AppendBatcher;
  private readonly appendedListeners = new Set<(partition: number) => void>();
  private readonly ingestListeners = new Set<IngestListener>();
  private readonly refusedListeners = new Set<(error: string, messages: number) => void>();
  /** Per device: generation id and X.509 kind, read once (registry changes drop the entry). */
  private readonly generations = new Map<string, { generationId: string; authType: string; disabled: boolean }>();
  private readonly unsubscribe: Array<() => void> = [];
  private retentionTimer: NodeJS.Timeout | undefined;
  private trimming: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: TelemetryOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.config = options.config;
    this.partitions = options.config.partitions;
    this.createdAt = options.clock.now();
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.batcher = new AppendBatcher(
      (events) => this.store.appendEvents(events, this.clock.now()),
      (err) => this.logger.error({ err }, 'a telemetry result handler threw'),
    );
    this.unsubscribe.push(options.registry.onDeviceChange((deviceId) => this.generations.delete(deviceId)));
    if (options.cluster) {
      this.unsubscribe.push(options.cluster.onRemoteEvents((p) => this.appended(p)));
      this.unsubscribe.push(
        options.cluster.onSignalsMissed(() => {
          for (let p = 0; p < this.partitions; p++) this.appended(p);
        }),
      );
    }
  }

  start(): void {
    this.stopped = false;
    if (this.retentionTimer) return;
    this.retentionTimer = setInterval(() => void this.runRetention(), this.config.retentionCheckMs);
    this.retentionTimer.unref();
  }

  /** Refuses new sends, lets appends in flight commit, stops retention. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.retentionTimer);
    this.retentionTimer = undefined;
    for (const u of this.unsubscribe.splice(0)) u();
    await this.batcher.idle();
    await this.trimming;
  }

  /**
   * Appends the device's messages (a batch is accepted or refused whole); `done` is called with
   * undefined once they are durable, or with the FerryError (MessageTooLarge, DeviceNotFound...).
   */
  send(sender: TelemetrySender, messages: readonly TelemetryMessage[], answer: (err: Error | undefined) => void): void {
    const done = (err: Error | undefined) => {
      if (err) {
        const name = err instanceof FerryError ? err.errorName : 'ServerError';
        for (const l of this.refusedListeners) l(name, messages.length);
      }
      answer(err);
    };
    if (this.stopped) {
      done(new FerryError('ServerBusy', 'The hub is stopping'));
      return;
    }
    try {
      for (const m of messages) checkTelemetrySize(m);
    } catch (err) {
      done(err as Error);
      return;
    }
    const known = this.generations.get(sender.deviceId);
    if (known !== undefined) {
      this.appendAs(sender, known, messages, done);
      return;
    }
    this.options.registry.identity(sender.deviceId).then(
      (identity) => {
        if (!identity) {
          done(new FerryError('DeviceNotFound', `Device "${sender.deviceId}" is not registered`));
          return;
        }
        if (this.generations.size >= GENERATION_CACHE) this.generations.clear();
        const entry = {
          generationId: identity.generationId,
          authType: identity.authType,
          disabled: identity.status === 'disabled',
        };
        this.generations.set(sender.deviceId, entry);
        this.appendAs(sender, entry, messages, done);
      },
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
    );
  }

  sendAsync(sender: TelemetrySender, messages: readonly TelemetryMessage[]): Promise<void> {
    return new Promise((resolve, reject) => this.send(sender, messages, (err) => (err ? reject(err) : resolve())));
  }

  private appendAs(
    sender: TelemetrySender,
    identity: { generationId: string; authType: string; disabled: boolean },
    messages: readonly TelemetryMessage[],
    done: (err: Error | undefined) => void,
  ): void {
    if (identity.disabled) {
      done(new FerryError('DeviceDisabled', `Device "${sender.deviceId}" is disabled`));
      return;
    }
    if (messages.length === 0) {
      done(undefined);
      return;
    }
    const partition = partitionOf(sender.deviceId, this.partitions);
    // IoT Hub names the X.509 kind in the auth method: selfSigned or certificateAuthority.
    const auth = sender.auth === 'sas' ? 'sas' : identity.authType;
    const events: NewEvent[] = messages.map((m) => toEvent(sender, auth, identity.generationId, partition, m));
    this.batcher.submit(events, (r) => {
      if (r instanceof Error) return done(r);
      this.committed(r, events);
      done(undefined);
    });
  }

  private committed(positions: EventPosition[], events: NewEvent[]): void {
    let bytes = 0;
    for (const e of events) bytes += e.body.length;
    for (const l of this.ingestListeners) l(events.length, bytes);
    const partitions = new Set(positions.map((p) => p.partition));
    for (const p of partitions) {
      this.appended(p);
      this.options.cluster?.publishEvents(p);
    }
  }

  private appended(partition: number): void {
    for (const l of this.appendedListeners) {
      try {
        l(partition);
      } catch (err) {
        this.logger.error({ err }, 'a telemetry reader threw');
      }
    }
  }

  /** Called whenever a partition may have new events (signals may be spurious). Returns an unsubscribe function. */
  onAppended(fn: (partition: number) => void): () => void {
    const entry = (p: number) => fn(p);
    this.appendedListeners.add(entry);
    return () => void this.appendedListeners.delete(entry);
  }

  onRefused(fn: (error: string, messages: number) => void): () => void {
    const entry = (e: string, n: number) => fn(e, n);
    this.refusedListeners.add(entry);
    return () => void this.refusedListeners.delete(entry);
  }

  onIngested(fn: IngestListener): () => void {
    const entry: IngestListener = (n, b) => fn(n, b);
    this.ingestListeners.add(entry);
    return () => void this.ingestListeners.delete(entry);
  }

  /** Throws FerryError ArgumentInvalid for a partition this hub does not have. */
  checkPartition(partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new FerryError(
        'ArgumentInvalid',
        `Partition ${partition} does not exist; this hub has partitions 0 to ${this.partitions - 1}`,
      );
    }
  }

  read(partition: number, fromSequence: number, limit: number): Promise<StoredEvent[]> {
    this.checkPartition(partition);
    return this.store.readEvents(partition, fromSequence, limit);
  }

  seek(partition: number, seek: EventSeek): Promise<number> {
    this.checkPartition(partition);
    return this.store.seekEvents(partition, seek);
  }

  partitionInfo(partition: number): Promise<PartitionInfo> {
    this.checkPartition(partition);
    return this.store.partitionInfo(partition);
  }

  /** $Default first, then the groups users made. */
  async consumerGroups(): Promise<string[]> {
    return [DEFAULT_CONSUMER_GROUP, ...(await this.store.listConsumerGroups()).map((g) => g.name)];
  }

  /** The group's name as stored, or undefined when there is none by that name (case-insensitively). */
  async consumerGroup(name: string): Promise<string | undefined> {
    return (await this.consumerGroups()).find((g) => g.toLowerCase() === name.toLowerCase());
  }

  /** Throws ArgumentInvalid for a bad name, Conflict (409) when it exists. */
  async createConsumerGroup(name: string): Promise<void> {
    if (name.toLowerCase() === DEFAULT_CONSUMER_GROUP.toLowerCase()) {
      throw new FerryError('Conflict', 'The $Default consumer group always exists');
    }
    if (!GROUP_NAME.test(name)) {
      throw new FerryError(
        'ArgumentInvalid',
        'A consumer group name has 1-50 letters, digits, ".", "_" or "-", and starts with a letter or digit',
      );
    }
    if (!(await this.store.insertConsumerGroup({ name, createdAt: this.clock.now() }))) {
      throw new FerryError('Conflict', `Consumer group "${name}" already exists`);
    }
  }

  /** Throws NotFound (404) when there is no such group, ArgumentInvalid for $Default. */
  async deleteConsumerGroup(name: string): Promise<void> {
    if (name.toLowerCase() === DEFAULT_CONSUMER_GROUP.toLowerCase()) {
      throw new FerryError('ArgumentInvalid', 'The $Default consumer group cannot be deleted');
    }
    if (!(await this.store.deleteConsumerGroup(name))) {
      throw new FerryError('NotFound', `There is no consumer group "${name}"`);
    }
  }

  /** Removes what retention no longer keeps, a batch at a time; one pass at a time. */
  runRetention(): Promise<void> {
    this.trimming ??= (async () => {
      try {
        const trim = {
          before: this.clock.now() - this.config.retentionMs,
          maxBytesPerPartition: Math.floor(this.config.maxBytes / this.partitions),
          limit: TRIM_BATCH,
        };
        let removed = 0;
        for (;;) {
          const n = await this.store.trimEvents(this.partitions, trim);
          removed += n;
          if (n < TRIM_BATCH || this.stopped) break;
        }
        if (removed) this.logger.debug({ removed }, 'telemetry retention removed events');
      } catch (err) {
        this.logger.warn({ err }, 'telemetry retention failed; it runs again at the next check');
      } finally {
        this.trimming = undefined;
      }
    })();
    return this.trimming;
  }
}
