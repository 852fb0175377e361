/**
 * Hub-wide device presence (issue 28): this node's connects and disconnects written to the store
 * (ClusterStore.writePresence) as they happen, batched per turn of the event loop, and activity at
 * most once per ACTIVITY_WRITE_MS per device, never per message. Any node then answers for any
 * device from the store. A failed write is logged; the next connect or disconnect writes again.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { ClusterStore, PresenceRecord, PresenceWrite } from '../store/types.js';

/** How often a device's lastActivityTime is written at most (GET /devices/{id} through another node lags by this much). */
export const ACTIVITY_WRITE_MS = 30_000;

export interface PresenceBookOptions {
  store: Pick<ClusterStore, 'writePresence' | 'getPresence'>;
  nodeId: string;
  clock: Clock;
  logger: Logger;
}

export class PresenceBook {
  private queue: PresenceWrite[] = [];
  private flushing: Promise<void> | undefined;
  /** When each device's activity was last written. */
  private readonly activityWritten = new Map<string, number>();

  readonly nodeId: string;

  constructor(private readonly opts: PresenceBookOptions) {
    this.nodeId = opts.nodeId;
  }

  connect(deviceId: string, at: number): void {
    this.activityWritten.set(deviceId, at);
    this.add({ deviceId, nodeId: this.opts.nodeId, kind: 'connect', at });
  }

  disconnect(deviceId: string, at: number): void {
    this.activityWritten.delete(deviceId);
    this.add({ deviceId, nodeId: this.opts.nodeId, kind: 'disconnect', at });
  }

  activity(deviceId: string, at: number): void {
    const last = this.activityWritten.get(deviceId);
    if (last !== undefined && at - last < ACTIVITY_WRITE_MS) return;
    this.activityWritten.set(deviceId, at);
    this.add({ deviceId, nodeId: this.opts.nodeId, kind: 'activity', at });
  }

  lookup(deviceId: string): Promise<PresenceRecord | undefined> {
    return this.opts.store.getPresence(deviceId);
  }

  /** Resolves once everything recorded so far is written (or failed and was logged). */
  async flush(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      await (this.flushing ?? this.startFlush());
    }
  }

  private add(write: PresenceWrite): void {
    this.queue.push(write);
    if (!this.flushing) queueMicrotask(() => void this.startFlush());
  }

  private startFlush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return this.flushing ?? Promise.resolve();
    const writes = this.queue;
    this.queue = [];
    this.flushing = this.opts.store
      .writePresence(writes)
      .catch((err: unknown) => this.opts.logger.warn({ err, writes: writes.length }, 'writing device presence failed'))
      .finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) void this.startFlush();
      });
    return this.flushing;
  }
}
