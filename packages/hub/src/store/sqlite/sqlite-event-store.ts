/**
 * SqliteStore's telemetry part: the event log and its consumer groups over EventLogTables, each
 * write answered once durable (as SqliteJobStore is its jobs part).
 */
import type {
  ConsumerGroupRecord,
  EventPosition,
  EventSeek,
  EventTrim,
  NewEvent,
  PartitionInfo,
  StoredEvent,
} from '../event-log.js';
import type { EventLogTables } from './event-log-tables.js';
import { SqliteJobStore } from './job-tables.js';

export abstract class SqliteEventStore extends SqliteJobStore {
  protected abstract readonly events: EventLogTables;
  /** Appends in one transaction; trims in one transaction. */
  protected abstract readonly appendAll: (events: readonly NewEvent[], now: number) => EventPosition[];
  protected abstract readonly trimAll: (partitions: number, trim: EventTrim) => number;
  protected abstract durable(ops?: number): Promise<void>;

  async appendEvents(events: readonly NewEvent[], now: number): Promise<EventPosition[]> {
    if (events.length === 0) return [];
    const positions = this.appendAll(events, now);
    await this.durable(events.length);
    return positions;
  }

  async readEvents(partition: number, fromSequence: number, limit: number): Promise<StoredEvent[]> {
    return this.events.readEvents(partition, fromSequence, limit);
  }

  async seekEvents(partition: number, seek: EventSeek): Promise<number> {
    return this.events.seek(partition, seek);
  }

  async partitionInfo(partition: number): Promise<PartitionInfo> {
    return this.events.info(partition);
  }

  async trimEvents(partitions: number, trim: EventTrim): Promise<number> {
    return this.synced(this.trimAll(partitions, trim));
  }

  async listConsumerGroups(): Promise<ConsumerGroupRecord[]> {
    return this.events.listGroups();
  }

  async insertConsumerGroup(group: ConsumerGroupRecord): Promise<boolean> {
    return this.synced(this.events.insertGroup(group));
  }

  async deleteConsumerGroup(name: string): Promise<boolean> {
    return this.synced(this.events.deleteGroup(name));
  }
}
