/**
 * The telemetry part of the Store: a partitioned, append-only event log (the built-in
 * Event Hubs-compatible endpoint's data) and the consumer group names. Protocol-free: an event is
 * its properties and body; the gateways turn it into their wire. Both adapters pass
 * test/event-log-contract.ts.
 *
 * Each partition numbers its events from 0 (sequence number) and gives each an offset: the bytes
 * counted before it in the partition, so the size cap is a comparison with the partition's next
 * offset. An append is one transaction over a group of events, answered once it is durable.
 */

/** An event to append; the store assigns sequence number, offset and enqueued time. */
export interface NewEvent {
  partition: number;
  deviceId: string;
  /** System properties as IoT Hub names them (message-id, correlation-id, user-id, content-type, ...). */
  system: Record<string, string>;
  /** Application properties, as the device set them. */
  properties: Record<string, string>;
  /** What the hub adds (iothub-connection-device-id, iothub-connection-auth-method, ...). */
  annotations: Record<string, string>;
  body: Buffer;
}

export interface EventPosition {
  partition: number;
  sequenceNumber: number;
  offset: number;
  /** ms since the epoch */
  enqueuedTime: number;
}

export interface StoredEvent extends NewEvent, EventPosition {}

/** Where a reader starts: the first event after (or at, when inclusive) a value. */
export type EventSeek =
  | { kind: 'sequence'; value: number; inclusive: boolean }
  | { kind: 'offset'; value: number; inclusive: boolean }
  | { kind: 'time'; value: number; inclusive: boolean }
  /** After every event appended so far. */
  | { kind: 'latest' };

export interface PartitionInfo {
  partition: number;
  /** The first retained event's sequence number; the next one when the partition is empty. */
  beginSequenceNumber: number;
  /** -1 when nothing was ever appended. */
  lastSequenceNumber: number;
  /** -1 when nothing was ever appended. */
  lastOffset: number;
  /** ms since the epoch; 0 when nothing was ever appended. */
  lastEnqueuedTime: number;
  /** No event retained. */
  empty: boolean;
}

/** What retention removes in one call: events enqueued before `before`, and the oldest beyond `maxBytesPerPartition`. */
export interface EventTrim {
  before: number;
  maxBytesPerPartition: number;
  /** Delete at most this many events per partition in one call. */
  limit: number;
}

export interface ConsumerGroupRecord {
  name: string;
  /** ms since the epoch */
  createdAt: number;
}

export interface EventLogStore {
  /** Appends in ONE transaction, in order; resolves with each event's position once durable. */
  appendEvents(events: readonly NewEvent[], now: number): Promise<EventPosition[]>;
  /** Up to `limit` retained events of the partition with sequence number >= fromSequence, in order. */
  readEvents(partition: number, fromSequence: number, limit: number): Promise<StoredEvent[]>;
  /** The sequence number a reader starting at `seek` reads first (it may not exist yet). */
  seekEvents(partition: number, seek: EventSeek): Promise<number>;
  partitionInfo(partition: number): Promise<PartitionInfo>;
  /** Deletes what retention no longer keeps, in every partition; resolves with how many events went. */
  trimEvents(partitions: number, trim: EventTrim): Promise<number>;
  /** Consumer groups made by users ($Default is not stored: it always exists). Ordered by name. */
  listConsumerGroups(): Promise<ConsumerGroupRecord[]>;
  /** False when one with that name (case-insensitively) exists. */
  insertConsumerGroup(group: ConsumerGroupRecord): Promise<boolean>;
  deleteConsumerGroup(name: string): Promise<boolean>;
}

/** The JSON kept beside each body: system, application and hub properties. */
export interface EventMeta {
  s: Record<string, string>;
  p: Record<string, string>;
  a: Record<string, string>;
}

export function eventMeta(e: NewEvent): string {
  return JSON.stringify({ s: e.system, p: e.properties, a: e.annotations } satisfies EventMeta);
}

/** The bytes an event counts for (offsets and the size cap): body plus its properties' JSON. */
export function eventSize(e: NewEvent, meta: string): number {
  return e.body.length + Buffer.byteLength(meta);
}

export function parseEventMeta(meta: string): EventMeta {
  const m = JSON.parse(meta) as Partial<EventMeta>;
  return { s: m.s ?? {}, p: m.p ?? {}, a: m.a ?? {} };
}
