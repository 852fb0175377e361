/**
 * Live telemetry for a watcher (the console's GET /events/telemetry): the events appended from
 * the moment it starts, to every partition, or to one device's partition keeping that device's
 * events, read from the event log whenever telemetry.onAppended says a partition has more. A
 * watcher is no reader of the built-in endpoint: it keeps no stored position and takes nothing
 * from anyone. A partition more than MAX_BEHIND events ahead of the watcher has its older events
 * skipped (and counted), so a busy hub never makes a browser tab read its whole log.
 */
import type { StoredEvent } from '../../store/event-log.js';
import { partitionOf } from '../../telemetry/partition.js';
import type { Telemetry } from '../../telemetry/telemetry.js';

export type WatchedTelemetry = Pick<Telemetry, 'partitions' | 'onAppended' | 'read' | 'seek' | 'partitionInfo'>;

export interface TelemetryWatcher {
  /** Only this device's events. */
  deviceId?: string;
  /** Every partition has its starting position: what is appended from now on is seen. */
  onReady(): void;
  onEvent(event: StoredEvent): void;
  /** `count` events of `partition` went unseen (the watcher was too far behind). */
  onSkipped(partition: number, count: number): void;
  /** Reading the log failed; the watch goes on at the next append. */
  onError(err: unknown): void;
}

const READ_BATCH = 200;
/** Events a watcher may be behind in one partition before the older ones are skipped. */
export const MAX_BEHIND = 1000;

/** Starts watching; returns the function that stops it. */
export function watchTelemetry(telemetry: WatchedTelemetry, watcher: TelemetryWatcher): () => void {
  const { deviceId } = watcher;
  const partitions =
    deviceId === undefined
      ? Array.from({ length: telemetry.partitions }, (_, p) => p)
      : [partitionOf(deviceId, telemetry.partitions)];
  /** The next sequence number to read, per watched partition, once its start is known. */
  const next = new Map<number, number>();
  const due = new Set<number>();
  let pumping = false;
  let stopped = false;

  async function drain(partition: number): Promise<void> {
    let from = next.get(partition)!;
    const info = await telemetry.partitionInfo(partition);
    if (info.lastSequenceNumber - from + 1 > MAX_BEHIND) {
      const first = info.lastSequenceNumber - MAX_BEHIND + 1;
      watcher.onSkipped(partition, first - from);
      from = first;
    }
    // Retention may have removed what was next.
    from = Math.max(from, info.beginSequenceNumber);
    for (;;) {
      const events = await telemetry.read(partition, from, READ_BATCH);
      if (stopped) return;
      for (const e of events) {
        if (deviceId === undefined || e.deviceId === deviceId) watcher.onEvent(e);
        from = e.sequenceNumber + 1;
      }
      next.set(partition, from);
      if (events.length < READ_BATCH) return;
    }
  }

  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      for (let p = first(due); p !== undefined && !stopped; p = first(due)) {
        due.delete(p);
        try {
          await drain(p);
        } catch (err) {
          watcher.onError(err);
        }
      }
    } finally {
      pumping = false;
    }
  }

  const unsubscribe = telemetry.onAppended((p) => {
    if (!next.has(p)) return;
    due.add(p);
    void pump();
  });
  void (async () => {
    try {
      for (const p of partitions) next.set(p, await telemetry.seek(p, { kind: 'latest' }));
      if (!stopped) watcher.onReady();
    } catch (err) {
      watcher.onError(err);
    }
  })();
  return () => {
    stopped = true;
    unsubscribe();
  };
}

function first(set: ReadonlySet<number>): number | undefined {
  for (const v of set) return v;
  return undefined;
}
