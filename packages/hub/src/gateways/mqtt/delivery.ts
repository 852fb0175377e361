/**
 * The delivery pump of one connection: leases the device's messages from the engine, publishes
 * them, and settles them on PUBACK. At most `maxInflight` unacknowledged publishes at a time.
 */
import type { Delivery } from '@ferry/common';
import type { Clock, TimerHandle } from '../../clock.js';
import type { C2dEngine, DirectReceiver } from '../../engine/types.js';
import type { LineLogger } from '../connection-log.js';
import { InflightWindow } from './inflight-window.js';
import { C2dTopicWriter, c2dPublishPacket } from './topic.js';

export interface PumpDeps {
  deviceId: string;
  engine: Pick<C2dEngine, 'receive' | 'openReceiver' | 'complete' | 'reject' | 'settleTo' | 'release' | 'onAvailable'>;
  clock: Clock;
  maxInflight: number;
  logger: LineLogger;
  /** Where the publishes go (the connection; one object, not a closure each). */
  out: PublishTarget;
}

export interface PublishTarget {
  /** Write one encoded packet; false when the stream asks us to wait for 'drain'. */
  write(packet: Buffer): boolean;
  /** Around each batch of publishes: they leave in one write (one TLS record). */
  cork(): void;
  uncork(): void;
  /** Resolves on 'drain' or when the connection closes. */
  drained(): Promise<void>;
}

const MAX_PACKET_ID = 0xffff;

export class DeliveryPump {
  /** packet id -> delivery, in publish order. */
  private readonly inflight = new InflightWindow();
  private qos: 0 | 1 | null = null;
  private stopped = false;
  private running: Promise<void> | undefined;
  private again = false;
  /** False after a short lease, until the engine signals that something may be available again. */
  private maybeMore = true;
  /** Counts availability signals, so a signal that lands during a lease is not lost. */
  private signals = 0;
  /**
   * Waits in the engine when the queue was empty and there is room in flight: the engine leases
   * for us in the transaction of the next enqueue (direct delivery) and hands the batch to
   * onDeliveries. Opened once, reused for every wait.
   */
  private receiver: DirectReceiver | undefined;
  /** The receiver wants messages, or has a lease in flight for us. */
  private parked = false;
  /** stop() waits for the receiver's lease in flight to end (and be released). */
  private parkEnded: (() => void) | undefined;
  /** Messages the engine handed over after we stopped, being given back. */
  private lateRelease: Promise<void> | undefined;
  private nextPacketId = 1;
  private unlisten: (() => void) | undefined;
  /** One coarse timer for the locks of all in-flight messages, armed at or before the earliest. */
  private lockTimer: TimerHandle | undefined;
  private lockTimerAt = Number.POSITIVE_INFINITY;
  private readonly topics: C2dTopicWriter;

  constructor(private readonly deps: PumpDeps) {
    this.topics = new C2dTopicWriter(deps.deviceId);
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** The granted QoS of the C2D subscription; null stops leasing new messages. */
  setQos(qos: 0 | 1 | null): void {
    if (this.stopped) return;
    this.qos = qos;
    if (qos === null) {
      this.unlisten?.();
      this.unlisten = undefined;
      this.unpark();
      return;
    }
    this.unlisten ??= this.deps.engine.onAvailable(this.deps.deviceId, () => this.signal());
    this.signal();
  }

  /** PUBACK: complete the message. False when the packet id is not in flight (ignored). */
  acknowledge(packetId: number): boolean {
    const d = this.inflight.take(packetId);
    if (!d) return false;
    // Completions are issued in the order the PUBACKs arrive (MQTT-4.6.0-2 makes that the
    // publish order for a conforming client); a lock lost meanwhile means it is redelivered.
    this.settle('complete', d);
    this.wake();
    return true;
  }

  /** Stop for good: returns the in-flight messages to the queue so they come back with DUP. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unlisten?.();
    this.unlisten = undefined;
    const leaseInFlight = this.unpark();
    this.receiver?.close();
    this.lockTimer?.cancel();
    const tokens = this.inflight.entries().map(([, d]) => d.lockToken);
    this.inflight.clear();
    // A lease in flight for us ends in onDeliveries, which gives its messages back.
    const parkEnd = leaseInFlight ? new Promise<void>((resolve) => (this.parkEnded = resolve)) : undefined;
    // (A batch already handed over runs onDeliveries before this resumes, and gives itself back.)
    await this.running;
    await this.release(tokens);
    await parkEnd;
    await this.lateRelease;
  }

  /** Stop waiting in the engine; true when a lease for us is still in flight (it ends in onDeliveries). */
  private unpark(): boolean {
    if (!this.parked) return false;
    this.parked = this.receiver?.pause() ?? false;
    return this.parked;
  }

  /** The engine says the device may have a message. */
  private signal(): void {
    this.signals++;
    this.maybeMore = true;
    this.wake();
  }

  /** Room in flight changed, or a signal came: lease and publish, without re-asking an empty queue. */
  wake(): void {
    if (this.stopped || this.qos === null) return;
    if (this.parked) {
      // Waiting in the engine, which also hears every signal: more room only raises what it may lease.
      const room = this.deps.maxInflight - this.inflight.size;
      if (room > 0) this.receiver?.want(room);
      return;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.run().finally(() => {
      this.running = undefined;
      // A signal that came while the last pass was finishing.
      if (this.again) this.wake();
    });
  }

  private async run(): Promise<void> {
    do {
      this.again = false;
      while (!this.stopped && this.qos !== null && this.inflight.size < this.deps.maxInflight) {
        const wanted = this.deps.maxInflight - this.inflight.size;
        if (!this.maybeMore) {
          // The queue was empty: wait in the engine (when it can) instead of being signalled to ask again.
          this.park(wanted);
          return;
        }
        // Draining a backlog: lease in batches, once half the window is free, not one message
        // per PUBACK (what is still in flight keeps the device busy meanwhile).
        if (this.inflight.size > 0 && wanted < Math.ceil(this.deps.maxInflight / 2)) break;
        const signalsBefore = this.signals;
        let batch: Delivery[];
        try {
          batch = await this.deps.engine.receive(this.deps.deviceId, wanted, 'mqtt');
        } catch (err) {
          // The next signal (send, abandon, lock expiry) tries again.
          this.deps.logger.warn({ err }, 'C2D receive failed');
          return;
        }
        if (this.stopped || this.qos === null) {
          await this.release(batch.map((d) => d.lockToken));
          return;
        }
        // A short batch means the queue is empty for now; only a new signal makes asking again worthwhile.
        if (batch.length < wanted && this.signals === signalsBefore) this.maybeMore = false;
        if (batch.length === 0) continue;
        if (!this.publishBatch(batch, this.qos)) await this.deps.out.drained();
      }
    } while (this.again && !this.stopped);
  }

  /** Wait in the engine for up to `wanted` messages; without openReceiver, the next signal wakes us. */
  private park(wanted: number): void {
    if (!this.deps.engine.openReceiver) return;
    // The pump is its receiver's handlers (onDeliveries, onError): no object or closures of their own.
    this.receiver ??= this.deps.engine.openReceiver(this.deps.deviceId, this, 'mqtt');
    this.parked = true;
    this.receiver.want(wanted);
  }

  /** The receiver's lease failed. */
  onError(err: Error): void {
    this.parked = false;
    this.parkEnded?.();
    // The next signal (send, abandon, lock expiry) tries again.
    this.deps.logger.warn({ err }, 'C2D receive failed');
  }

  /** The engine leased for us while we waited (or a lease in flight at pause ended, maybe empty). */
  onDeliveries(batch: Delivery[]): void {
    this.parked = false;
    if (this.stopped || this.qos === null) {
      this.lateRelease = this.release(batch.map((d) => d.lockToken)).finally(() => this.parkEnded?.());
      return;
    }
    // Waiting ended without messages: the engine is stopping.
    if (batch.length === 0) return;
    if (this.publishBatch(batch, this.qos)) {
      // With room left and the queue known empty, wait again at once (no pass of run()).
      const room = this.deps.maxInflight - this.inflight.size;
      if (room > 0 && !this.maybeMore && !this.running) {
        this.park(room);
      } else {
        this.wake();
      }
      return;
    }
    // The socket is full: like run(), wait for it before leasing more.
    this.running = this.deps.out.drained().finally(() => {
      this.running = undefined;
      this.wake();
    });
  }

  /** Publish a leased batch in one corked write; false when the stream asks us to wait for 'drain'. */
  private publishBatch(batch: Delivery[], qos: 0 | 1): boolean {
    let flowing = true;
    let earliestLock = Number.POSITIVE_INFINITY;
    this.deps.out.cork();
    try {
      for (const d of batch) {
        flowing = this.deliver(d, qos) && flowing;
        if (d.lockedUntil < earliestLock) earliestLock = d.lockedUntil;
      }
    } finally {
      this.deps.out.uncork();
    }
    if (this.inflight.size > 0) this.lockTimerBy(earliestLock);
    return flowing;
  }

  /** Publish one delivery; returns the stream's write result. */
  private deliver(d: Delivery, qos: 0 | 1): boolean {
    const packetId = qos === 1 ? this.allocatePacketId() : 0;
    let packet: Buffer;
    try {
      packet = c2dPublishPacket(this.topics.topic(d), d.body, qos, d.redelivered, packetId);
    } catch (err) {
      // It can never be delivered over MQTT; waiting would only block the queue behind it.
      this.deps.logger.error(
        { err, sequenceNumber: d.sequenceNumber, messageId: d.messageId },
        'C2D message cannot be encoded as an MQTT topic; rejecting it',
      );
      this.settle('reject', d);
      return true;
    }
    if (qos === 0) {
      // A QoS 0 subscription completes a message when it is sent (DESIGN decision 10).
      const ok = this.deps.out.write(packet);
      this.settle('complete', d);
      return ok;
    }
    this.inflight.add(packetId, d);
    return this.deps.out.write(packet);
  }

  private allocatePacketId(): number {
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id === MAX_PACKET_ID ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }

  /**
   * When a lock runs out before its PUBACK, the engine puts the message back in the queue; the
   * slot is freed here so the pump can lease it again (then with DUP). One timer per connection,
   * not re-armed per message: a PUBACK leaves it alone, and when it fires it frees what expired
   * and re-arms for the earliest lock still in flight.
   */
  private lockTimerBy(at: number): void {
    if (this.lockTimer && this.lockTimerAt <= at) return;
    this.lockTimer?.cancel();
    this.lockTimerAt = at;
    // setTimeout overflows past 2^31-1 ms; a far deadline just checks early and re-arms.
    const delay = Math.min(at - this.deps.clock.now(), 2 ** 31 - 1);
    this.lockTimer = this.deps.clock.setTimer(() => this.locksDue(), delay);
  }

  private locksDue(): void {
    this.lockTimer = undefined;
    this.lockTimerAt = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    const now = this.deps.clock.now();
    let earliest = Number.POSITIVE_INFINITY;
    let freed = false;
    for (const [id, d] of this.inflight.entries()) {
      if (d.lockedUntil <= now) {
        this.inflight.take(id);
        freed = true;
        this.deps.logger.debug(
          { packetId: id, sequenceNumber: d.sequenceNumber },
          'C2D lock expired before PUBACK; it will be published again with DUP',
        );
      } else if (d.lockedUntil < earliest) {
        earliest = d.lockedUntil;
      }
    }
    if (earliest !== Number.POSITIVE_INFINITY) this.lockTimerBy(earliest);
    if (freed) this.wake();
  }

  private settle(how: 'complete' | 'reject', d: Delivery): void {
    const { engine, deviceId } = this.deps;
    if (engine.settleTo) engine.settleTo(deviceId, d.lockToken, how, (err) => err && this.settleFailed(how, d, err));
    else engine[how](deviceId, d.lockToken).catch((err: unknown) => this.settleFailed(how, d, err));
  }

  private settleFailed(how: 'complete' | 'reject', d: Delivery, err: unknown): void {
    this.deps.logger.debug({ err, sequenceNumber: d.sequenceNumber }, `C2D ${how} failed; the message stays queued`);
  }

  private async release(tokens: string[]): Promise<void> {
    if (tokens.length === 0) return;
    try {
      await this.deps.engine.release(this.deps.deviceId, tokens);
    } catch (err) {
      this.deps.logger.warn({ err, count: tokens.length }, 'C2D release failed; the locks will expire instead');
    }
  }
}
