/**
 * The telemetry event log on PostgreSQL (store/event-log.ts). An append locks the rows of the
 * partitions it writes (in partition order, so two nodes never deadlock), numbers its events from
 * them and inserts them in one statement: one transaction, four round trips, any group size.
 * Several nodes append to one partition in turn; readers on any node read the same rows.
 */
import type pg from 'pg';
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

export const EVENT_LOG_SQL = `
CREATE TABLE event_partitions (
  partition integer PRIMARY KEY,
  next_seq bigint NOT NULL,
  next_offset bigint NOT NULL,
  last_offset bigint NOT NULL,
  last_time bigint NOT NULL
);
CREATE TABLE events (
  partition integer NOT NULL,
  seq bigint NOT NULL,
  "offset" bigint NOT NULL,
  size integer NOT NULL,
  enqueued_at bigint NOT NULL,
  device_id text NOT NULL,
  meta text NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (partition, seq)
);
CREATE INDEX events_time ON events (partition, enqueued_at);
CREATE INDEX events_offset ON events (partition, "offset");
CREATE TABLE consumer_groups (
  name text PRIMARY KEY,
  created_at bigint NOT NULL
);
CREATE UNIQUE INDEX consumer_groups_lower ON consumer_groups (lower(name));
`;

interface PartitionRow {
  partition: number;
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

const PARTITION_COLUMNS =
  'partition, next_seq::float8 AS next_seq, next_offset::float8 AS next_offset, last_offset::float8 AS last_offset, last_time::float8 AS last_time';

export class EventLogQueries {
  constructor(private readonly pool: pg.Pool) {}

  async append(events: readonly NewEvent[], now: number): Promise<EventPosition[]> {
    if (events.length === 0) return [];
    const partitions = [...new Set(events.map((e) => e.partition))].sort((a, b) => a - b);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO event_partitions (partition, next_seq, next_offset, last_offset, last_time)
         SELECT p, 0, 0, -1, 0 FROM unnest($1::integer[]) AS p ON CONFLICT (partition) DO NOTHING`,
        [partitions],
      );
      const { rows } = await client.query<PartitionRow>(
        `SELECT ${PARTITION_COLUMNS} FROM event_partitions WHERE partition = ANY($1::integer[])
         ORDER BY partition FOR UPDATE`,
        [partitions],
      );
      const byPartition = new Map(rows.map((r) => [r.partition, { ...r }]));
      const cols = {
        partition: [] as number[],
        seq: [] as number[],
        offset: [] as number[],
        size: [] as number[],
        time: [] as number[],
        device: [] as string[],
        meta: [] as string[],
        body: [] as Buffer[],
      };
      const positions = events.map((e) => {
        const row = byPartition.get(e.partition)!;
        const meta = eventMeta(e);
        const size = eventSize(e, meta);
        const time = Math.max(now, row.last_time);
        const pos = {
          partition: e.partition,
          sequenceNumber: row.next_seq,
          offset: row.next_offset,
          enqueuedTime: time,
        };
        cols.partition.push(e.partition);
        cols.seq.push(pos.sequenceNumber);
        cols.offset.push(pos.offset);
        cols.size.push(size);
        cols.time.push(time);
        cols.device.push(e.deviceId);
        cols.meta.push(meta);
        cols.body.push(e.body);
        row.last_offset = row.next_offset;
        row.next_seq++;
        row.next_offset += size;
        row.last_time = time;
        return pos;
      });
      await client.query(
        `INSERT INTO events (partition, seq, "offset", size, enqueued_at, device_id, meta, body)
         SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[], $6::text[],
           $7::text[], $8::bytea[])`,
        [cols.partition, cols.seq, cols.offset, cols.size, cols.time, cols.device, cols.meta, cols.body],
      );
      const rs = [...byPartition.values()];
      await client.query(
        `UPDATE event_partitions AS ep SET next_seq = u.s, next_offset = u.o, last_offset = u.l, last_time = u.t
         FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(p, s, o, l, t)
         WHERE ep.partition = u.p`,
        [
          rs.map((r) => r.partition),
          rs.map((r) => r.next_seq),
          rs.map((r) => r.next_offset),
          rs.map((r) => r.last_offset),
          rs.map((r) => r.last_time),
        ],
      );
      await client.query('COMMIT');
      return positions;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async read(partition: number, fromSequence: number, limit: number): Promise<StoredEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT partition, seq::float8 AS seq, "offset"::float8 AS "offset", enqueued_at::float8 AS enqueued_at,
       device_id, meta, body FROM events WHERE partition = $1 AND seq >= $2 ORDER BY seq LIMIT $3`,
      [partition, fromSequence, Math.max(0, Math.floor(limit))],
    );
    return rows.map((r) => {
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

  private async partitionRow(partition: number): Promise<PartitionRow> {
    const { rows } = await this.pool.query<PartitionRow>(
      `SELECT ${PARTITION_COLUMNS} FROM event_partitions WHERE partition = $1`,
      [partition],
    );
    return rows[0] ?? { partition, next_seq: 0, next_offset: 0, last_offset: -1, last_time: 0 };
  }

  private async minSeq(partition: number, where = 'TRUE', value?: number): Promise<number | null> {
    const { rows } = await this.pool.query<{ s: number | null }>(
      `SELECT min(seq)::float8 AS s FROM events WHERE partition = $1 AND ${where}`,
      value === undefined ? [partition] : [partition, value],
    );
    return rows[0]?.s ?? null;
  }

  async seek(partition: number, seek: EventSeek): Promise<number> {
    const { next_seq: next } = await this.partitionRow(partition);
    let s: number | null;
    switch (seek.kind) {
      case 'latest':
        return next;
      case 'sequence':
        return Math.max(seek.inclusive ? seek.value : seek.value + 1, (await this.minSeq(partition)) ?? next);
      case 'offset':
        s = await this.minSeq(partition, seek.inclusive ? '"offset" >= $2' : '"offset" > $2', seek.value);
        break;
      case 'time':
        s = await this.minSeq(partition, seek.inclusive ? 'enqueued_at >= $2' : 'enqueued_at > $2', seek.value);
        break;
    }
    return s ?? next;
  }

  async info(partition: number): Promise<PartitionInfo> {
    const row = await this.partitionRow(partition);
    const first = await this.minSeq(partition);
    return {
      partition,
      beginSequenceNumber: first ?? row.next_seq,
      lastSequenceNumber: row.next_seq - 1,
      lastOffset: row.last_offset,
      lastEnqueuedTime: row.last_time,
      empty: first === null,
    };
  }

  async trim(partitions: number, trim: EventTrim): Promise<number> {
    let deleted = 0;
    for (let p = 0; p < partitions; p++) {
      const byTime = await this.pool.query(
        `DELETE FROM events WHERE partition = $1 AND seq IN (
           SELECT seq FROM events WHERE partition = $1 AND enqueued_at < $2 ORDER BY seq LIMIT $3)`,
        [p, trim.before, trim.limit],
      );
      deleted += byTime.rowCount ?? 0;
      const floor = (await this.partitionRow(p)).next_offset - trim.maxBytesPerPartition;
      if (floor <= 0) continue;
      const bySize = await this.pool.query(
        `DELETE FROM events WHERE partition = $1 AND seq IN (
           SELECT seq FROM events WHERE partition = $1 AND "offset" < $2 ORDER BY seq LIMIT $3)`,
        [p, floor, trim.limit],
      );
      deleted += bySize.rowCount ?? 0;
    }
    return deleted;
  }

  async listGroups(): Promise<ConsumerGroupRecord[]> {
    const { rows } = await this.pool.query<{ name: string; created_at: number }>(
      'SELECT name, created_at::float8 AS created_at FROM consumer_groups ORDER BY name',
    );
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at }));
  }

  async insertGroup(g: ConsumerGroupRecord): Promise<boolean> {
    const r = await this.pool.query(
      'INSERT INTO consumer_groups (name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [g.name, g.createdAt],
    );
    return r.rowCount === 1;
  }

  async deleteGroup(name: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM consumer_groups WHERE lower(name) = lower($1)', [name]);
    return (r.rowCount ?? 0) > 0;
  }
}
