/**
 * The telemetry event log on SQLite (store/event-log.ts). Synchronous statements; SqliteStore
 * wraps the writes in a transaction and answers them after the WAL sync.
 */
import type Database from 'better-sqlite3';
import {
  type ConsumerGroupRecord,
  type EventPosition,
  type EventSeek,
  type EventTrim,
  eventMeta,
  eventSize,
  type NewEvent,
  type PartitionInfo,
  parseEventMeta,
  type StoredEvent,
} from '../event-log.js';

interface PartitionRow {
  next_seq: number;
  next_offset: number;
  last_offset: number;
  last_time: number;
}

interface EventRow {
  partition: number;
  seq: number;
  offset: number;
  enqueued_at: number;
  device_id: string;
  meta: string;
  body: Buffer;
}

export class EventLogTables {
  private readonly partitionRow: Database.Statement<[number], PartitionRow>;
  private readonly putPartition: Database.Statement<[number, number, number, number, number]>;
  private readonly insert: Database.Statement<[number, number, number, number, number, string, string, Buffer]>;
  private readonly read: Database.Statement<[number, number, number], EventRow>;
  private readonly firstSeq: Database.Statement<[number], { s: number | null }>;
  private readonly seqAtOffset: Database.Statement<[number, number], { s: number | null }>;
  private readonly seqAfterOffset: Database.Statement<[number, number], { s: number | null }>;
  private readonly seqAtTime: Database.Statement<[number, number], { s: number | null }>;
  private readonly seqAfterTime: Database.Statement<[number, number], { s: number | null }>;
  private readonly trimBefore: Database.Statement<[number, number, number, number]>;
  private readonly trimBelowOffset: Database.Statement<[number, number, number, number]>;
  private readonly groups: Database.Statement<[], { name: string; created_at: number }>;
  private readonly addGroup: Database.Statement<[string, number]>;
  private readonly removeGroup: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    this.partitionRow = db.prepare(
      'SELECT next_seq, next_offset, last_offset, last_time FROM event_partitions WHERE partition = ?',
    );
    this.putPartition = db.prepare(
      `INSERT INTO event_partitions (partition, next_seq, next_offset, last_offset, last_time) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (partition) DO UPDATE SET next_seq = excluded.next_seq, next_offset = excluded.next_offset,
         last_offset = excluded.last_offset, last_time = excluded.last_time`,
    );
    this.insert = db.prepare(
      'INSERT INTO events (partition, seq, offset, size, enqueued_at, device_id, meta, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.read = db.prepare(
      `SELECT partition, seq, offset, enqueued_at, device_id, meta, body FROM events
       WHERE partition = ? AND seq >= ? ORDER BY seq LIMIT ?`,
    );
    this.firstSeq = db.prepare('SELECT MIN(seq) AS s FROM events WHERE partition = ?');
    this.seqAtOffset = db.prepare('SELECT MIN(seq) AS s FROM events WHERE partition = ? AND offset >= ?');
    this.seqAfterOffset = db.prepare('SELECT MIN(seq) AS s FROM events WHERE partition = ? AND offset > ?');
    this.seqAtTime = db.prepare('SELECT MIN(seq) AS s FROM events WHERE partition = ? AND enqueued_at >= ?');
    this.seqAfterTime = db.prepare('SELECT MIN(seq) AS s FROM events WHERE partition = ? AND enqueued_at > ?');
    this.trimBefore = db.prepare(
      `DELETE FROM events WHERE partition = ? AND seq IN (
         SELECT seq FROM events WHERE partition = ? AND enqueued_at < ? ORDER BY seq LIMIT ?)`,
    );
    this.trimBelowOffset = db.prepare(
      `DELETE FROM events WHERE partition = ? AND seq IN (
         SELECT seq FROM events WHERE partition = ? AND offset < ? ORDER BY seq LIMIT ?)`,
    );
    this.groups = db.prepare('SELECT name, created_at FROM consumer_groups ORDER BY name');
    this.addGroup = db.prepare('INSERT INTO consumer_groups (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING');
    this.removeGroup = db.prepare('DELETE FROM consumer_groups WHERE name = ?');
  }

  private partition(p: number): PartitionRow {
    return this.partitionRow.get(p) ?? { next_seq: 0, next_offset: 0, last_offset: -1, last_time: 0 };
  }

  /** Inside the caller's transaction. */
  append(events: readonly NewEvent[], now: number): EventPosition[] {
    const rows = new Map<number, PartitionRow>();
    const positions = events.map((e) => {
      let row = rows.get(e.partition);
      if (!row) {
        row = { ...this.partition(e.partition) };
        rows.set(e.partition, row);
      }
      const meta = eventMeta(e);
      const size = eventSize(e, meta);
      // Enqueued times never go back within a partition, even if the clock does.
      const time = Math.max(now, row.last_time);
      const pos = { partition: e.partition, sequenceNumber: row.next_seq, offset: row.next_offset, enqueuedTime: time };
      this.insert.run(e.partition, pos.sequenceNumber, pos.offset, size, time, e.deviceId, meta, e.body);
      row.last_offset = row.next_offset;
      row.next_seq++;
      row.next_offset += size;
      row.last_time = time;
      return pos;
    });
    for (const [p, r] of rows) this.putPartition.run(p, r.next_seq, r.next_offset, r.last_offset, r.last_time);
    return positions;
  }

  readEvents(partition: number, fromSequence: number, limit: number): StoredEvent[] {
    return this.read.all(partition, fromSequence, limit).map((r) => {
      const m = parseEventMeta(r.meta);
      return {
        partition: r.partition,
        sequenceNumber: r.seq,
        offset: r.offset,
        enqueuedTime: r.enqueued_at,
        deviceId: r.device_id,
        system: m.s,
        properties: m.p,
        annotations: m.a,
        body: r.body,
      };
    });
  }

  seek(partition: number, seek: EventSeek): number {
    const next = this.partition(partition).next_seq;
    let s: number | null;
    switch (seek.kind) {
      case 'latest':
        return next;
      case 'sequence':
        return Math.max(seek.inclusive ? seek.value : seek.value + 1, this.firstSeq.get(partition)?.s ?? next);
      case 'offset':
        s = (seek.inclusive ? this.seqAtOffset : this.seqAfterOffset).get(partition, seek.value)?.s ?? null;
        break;
      case 'time':
        s = (seek.inclusive ? this.seqAtTime : this.seqAfterTime).get(partition, seek.value)?.s ?? null;
        break;
    }
    return s ?? next;
  }

  info(partition: number): PartitionInfo {
    const row = this.partition(partition);
    const first = this.firstSeq.get(partition)?.s ?? null;
    return {
      partition,
      beginSequenceNumber: first ?? row.next_seq,
      lastSequenceNumber: row.next_seq - 1,
      lastOffset: row.last_offset,
      lastEnqueuedTime: row.last_time,
      empty: first === null,
    };
  }

  /** Inside the caller's transaction. */
  trim(partitions: number, trim: EventTrim): number {
    let deleted = 0;
    for (let p = 0; p < partitions; p++) {
      deleted += this.trimBefore.run(p, p, trim.before, trim.limit).changes;
      const floor = this.partition(p).next_offset - trim.maxBytesPerPartition;
      if (floor > 0) deleted += this.trimBelowOffset.run(p, p, floor, trim.limit).changes;
    }
    return deleted;
  }

  listGroups(): ConsumerGroupRecord[] {
    return this.groups.all().map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  insertGroup(g: ConsumerGroupRecord): boolean {
    return this.addGroup.run(g.name, g.createdAt).changes === 1;
  }

  deleteGroup(name: string): boolean {
    return this.removeGroup.run(name).changes === 1;
  }
}
