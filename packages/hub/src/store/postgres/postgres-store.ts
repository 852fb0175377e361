/**
 * The Store on PostgreSQL (node-postgres, a pool), so several hub processes serve one hub. The
 * registry is one statement per call; a group commit is ONE call of the server-side function
 * ferry_commit (queue-sql.ts): one transaction, one round trip, whatever the group's size. The
 * ops travel as JSON and the message bodies as one bytea array beside it.
 *
 * A group runs first without per-op subtransactions (they cost on a busy server). When it raises
 * an SQL error it is run again with each op in its own savepoint, so one bad op fails alone, as on
 * SQLite. A lost connection is not retried: the group fails and its callers get ServerError, and
 * nothing is acknowledged that was not committed.
 */
import { randomUUID } from 'node:crypto';
import { type FeedbackRecord, FerryError } from '@ferry/common';
import pg from 'pg';
import type { StoredTwin, TwinEntry, TwinPageQuery, TwinWriteResult } from '../../twins/types.js';
import type { ConsumerGroupRecord, EventSeek, EventTrim, NewEvent } from '../event-log.js';
import { redactUrl } from '../redact-url.js';
import type {
  CaCertificateRecord,
  CommitResult,
  DeadLetter,
  DevicePageQuery,
  DeviceRecord,
  DeviceWrite,
  FailedResult,
  HistoryEvent,
  MqttSessionRecord,
  NodeRecord,
  NodeRelease,
  PendingMessage,
  PolicyRecord,
  PresenceRecord,
  PresenceWrite,
  QueueOp,
  QueueOpResult,
  QueuePolicy,
  Store,
} from '../types.js';
import { CaCertificateQueries } from './ca-certificate-queries.js';
import { ClusterQueries } from './cluster-queries.js';
import { EventLogQueries } from './event-log-queries.js';
import { connectionLost, guarded } from './guarded.js';
import { commitHot, hotOps } from './hot-path.js';
import { InspectionQueries } from './inspection-queries.js';
import { PostgresJobStore } from './job-queries.js';
import { migrate, SCHEMA_NAME } from './migrations.js';
import { decode, type Encoded, encode } from './op-codec.js';
import { RegistryQueries } from './registry-queries.js';
import { TwinQueries } from './twin-queries.js';

export interface PostgresStoreOptions {
  /** A postgres:// URL. */
  url: string;
  /** Where the tables live; several hubs (or test runs) can share one database. Default "ferry". */
  schema?: string;
  /** Pool size (default 8). */
  poolSize?: number;
  /** This process's name in cross-node signals (default a random UUID). */
  nodeId?: string;
  /** Errors of idle pooled connections (the server went away); they are replaced on next use. */
  onPoolError?: (err: Error) => void;
}

const OPTION_KEYS = new Set(['url', 'schema', 'poolSize', 'nodeId', 'onPoolError']);

/** SQLSTATE classes where replaying the group op by op cannot help (connection, resources, system). */
const NOT_RETRIED = /^(08|53|57|58|XX)/;

interface CommitRow {
  results: Array<Record<string, unknown>>;
  woken: string[];
  feedbackAvailable: boolean;
  earliestDeadline: number | null;
  /** The JSON text of each feedback record the commit appended; null when none. */
  feedbackRecords: string[] | null;
}

export { redactUrl };

export class PostgresStore extends PostgresJobStore implements Store {
  /** Committed transactions of commit(); lets tests and the bench see group commit at work. */
  commitCount = 0;
  /** Of those, the groups that took the set-based hot path (hot-path.ts). */
  hotCommitCount = 0;
  /**
   * Whether another node may lease the same queues at once, as this node's last heartbeat found
   * (a row of another node in hub_nodes). Until a heartbeat says otherwise, and after one fails,
   * it may: the hot path's leases then lock their rows (lease-lock-sql.ts).
   */
  othersLive = true;
  private readonly registry: RegistryQueries;
  private readonly inspection: InspectionQueries;
  private readonly caCertificates: CaCertificateQueries;
  private readonly twins: TwinQueries;
  private readonly events: EventLogQueries;
  private readonly cluster: ClusterQueries;

  private constructor(
    readonly pool: pg.Pool,
    readonly schema: string,
    /** The LISTEN/NOTIFY channel of this hub (one per schema). */
    readonly channel: string,
    readonly nodeId: string,
    readonly url: string,
  ) {
    super(pool);
    this.registry = new RegistryQueries(pool);
    this.inspection = new InspectionQueries(pool);
    this.caCertificates = new CaCertificateQueries(pool);
    this.twins = new TwinQueries(pool);
    this.events = new EventLogQueries(pool);
    this.cluster = new ClusterQueries(pool);
  }

  /** Connects, creates or migrates the schema (safe when several nodes start at once), and returns the store. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) {
        throw new TypeError(`PostgresStore: unknown option "${key}" (expected ${[...OPTION_KEYS].join(', ')})`);
      }
    }
    if (typeof options.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) {
      throw new TypeError('PostgresStore: option "url" must be a postgres:// URL');
    }
    const schema = options.schema ?? 'ferry';
    const nodeId = options.nodeId ?? randomUUID();
    if (!SCHEMA_NAME.test(schema)) {
      throw new TypeError(`PostgresStore: option "schema" must be a lower-case SQL identifier, got "${schema}"`);
    }
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 8,
      // Every statement finds the hub's tables and functions in its schema.
      options: `-c search_path=${schema}`,
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      // Names the node's connections in pg_stat_activity (its LISTEN connection is ferry-signals-<node>).
      application_name: `ferry-${nodeId}`.slice(0, 63),
    });
    pool.on('error', options.onPoolError ?? (() => {}));
    try {
      const client = await pool.connect();
      try {
        await migrate(client, schema, Date.now());
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => {});
      // A FerryError, so `ferry hub start` prints one line saying what and where.
      throw new FerryError(
        'ServiceUnavailable',
        `cannot open the PostgreSQL store at ${redactUrl(options.url)} (schema ${schema}): ${(err as Error).message}`,
        { cause: err },
      );
    }
    const channel = `ferry_${schema}`.slice(0, 63);
    return new PostgresStore(pool, schema, channel, nodeId, options.url);
  }

  // The telemetry event log (event-log-queries.ts), each call guarded as the others.
  readonly appendEvents = (e: readonly NewEvent[], now: number) => guarded(this.events.append(e, now));
  readonly readEvents = (p: number, from: number, limit: number) => guarded(this.events.read(p, from, limit));
  readonly seekEvents = (p: number, seek: EventSeek) => guarded(this.events.seek(p, seek));
  readonly partitionInfo = (p: number) => guarded(this.events.info(p));
  readonly trimEvents = (partitions: number, trim: EventTrim) => guarded(this.events.trim(partitions, trim));
  readonly listConsumerGroups = () => guarded(this.events.listGroups());
  readonly insertConsumerGroup = (g: ConsumerGroupRecord) => guarded(this.events.insertGroup(g));
  readonly deleteConsumerGroup = (name: string) => guarded(this.events.deleteGroup(name));

  // Nodes and presence (cluster-queries.ts).
  readonly heartbeatNode = async (node: NodeRecord): Promise<void> => {
    try {
      this.othersLive = await guarded(this.cluster.heartbeat(node));
    } catch (err) {
      this.othersLive = true;
      throw err;
    }
  };
  readonly listNodes = () => guarded(this.cluster.listNodes());
  readonly releaseNodes = (now: number, release: NodeRelease) => guarded(this.cluster.release(now, release));
  readonly writePresence = (writes: readonly PresenceWrite[]) => guarded(this.cluster.write(writes));
  readonly getPresence = (deviceId: string): Promise<PresenceRecord | undefined> => guarded(this.cluster.get(deviceId));
  readonly countConnected = () => guarded(this.cluster.countConnected());

  async commit(ops: readonly QueueOp[], now: number, policy: QueuePolicy): Promise<CommitResult> {
    const hot = ops.length > 0 ? hotOps(ops) : undefined;
    if (hot) {
      const done = await this.tryHot(hot, now, policy);
      if (done) return done;
    }
    const results: Array<QueueOpResult | undefined> = [];
    const sent: Encoded[] = [];
    const at: number[] = [];
    ops.forEach((op, i) => {
      try {
        sent.push(encode(op));
        at.push(i);
        results.push(undefined);
      } catch (cause) {
        results.push({ ok: false, error: 'ServerError', cause } satisfies FailedResult);
      }
    });
    if (sent.length === 0) {
      return {
        results: results as QueueOpResult[],
        wokenDevices: [],
        feedbackAvailable: false,
        earliestDeadline: null,
      };
    }
    const row = await guarded(this.run(sent, now, policy));
    this.commitCount++;
    row.results.forEach((r, j) => {
      results[at[j]!] = decode(r, ops[at[j]!]!);
    });
    return {
      results: results as QueueOpResult[],
      wokenDevices: row.woken,
      feedbackAvailable: row.feedbackAvailable,
      earliestDeadline: row.earliestDeadline,
      ...(row.feedbackRecords && { feedbackRecords: row.feedbackRecords.map((r) => JSON.parse(r) as FeedbackRecord) }),
    };
  }

  /** The hot path (hot-path.ts); undefined when the group must go op by op (something due, an SQL error). */
  private async tryHot(
    ops: Parameters<typeof commitHot>[1],
    now: number,
    policy: QueuePolicy,
  ): Promise<CommitResult | undefined> {
    try {
      const result = await commitHot(this.pool, ops, now, policy, this.channel, this.nodeId, this.othersLive);
      if (result) {
        this.commitCount++;
        this.hotCommitCount++;
      }
      return result;
    } catch (err) {
      // Rolled back: the op-by-op path tells which op failed, as it isolates them.
      if (!(err instanceof pg.DatabaseError) || NOT_RETRIED.test(err.code ?? '')) throw connectionLost(err) ?? err;
      return undefined;
    }
  }

  private async run(ops: Encoded[], now: number, policy: QueuePolicy): Promise<CommitRow> {
    const call = async (isolate: boolean) => {
      const r = await this.pool.query<{ r: CommitRow }>({
        name: isolate ? 'ferry_commit_isolated' : 'ferry_commit',
        text: 'SELECT ferry_commit($1, $2, $3, $4, $5, $6, $7, $8) AS r',
        values: [
          JSON.stringify(ops.map((o) => o.json)),
          ops.map((o) => o.body),
          now,
          new Date(now).toISOString(),
          JSON.stringify(policy),
          isolate,
          this.channel,
          this.nodeId,
        ],
      });
      return r.rows[0]!.r;
    };
    try {
      return await call(false);
    } catch (err) {
      if (!(err instanceof pg.DatabaseError) || NOT_RETRIED.test(err.code ?? '')) throw err;
      return call(true);
    }
  }

  async nextDeadline(policy: QueuePolicy): Promise<number | null> {
    const r = await guarded(
      this.pool.query<{ t: number | null; d: string | null; h: string | null }>(
        `SELECT ferry_next_deadline($1) AS t, (SELECT min(dead_lettered_at) FROM c2d_dead_letters) AS d,
         (SELECT min(at) FROM c2d_history WHERE final) AS h`,
        [policy.feedback.batchDelayMs],
      ),
    );
    const row = r.rows[0];
    // Kept dead letters and ended copies' history go when their retention ends (dead-letters-sql.ts, history-sql.ts).
    const times = [
      row?.t ?? null,
      row?.d == null ? null : Number(row.d) + policy.deadLetters.retentionMs,
      row?.h == null ? null : Number(row.h) + policy.history.retentionMs,
    ].filter((t): t is number => t !== null);
    return times.length ? Math.min(...times) : null;
  }

  async queueDepth(deviceId: string, now: number): Promise<number> {
    const r = await guarded(
      this.pool.query<{ n: number }>(
        'SELECT count(*)::integer AS n FROM c2d_messages WHERE device_id = $1 AND expiry > $2',
        [deviceId, now],
      ),
    );
    return r.rows[0]!.n;
  }

  insertDevice(device: DeviceRecord): Promise<boolean> {
    return guarded(this.registry.insertDevice(device));
  }

  replaceDevice(device: DeviceRecord, expectedEtag?: string): Promise<boolean> {
    return guarded(this.registry.replaceDevice(device, expectedEtag ?? null));
  }

  getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    return guarded(this.registry.getDevice(deviceId));
  }

  listDevices(limit: number): Promise<DeviceRecord[]> {
    return guarded(this.registry.listDevices(limit));
  }

  deleteDevice(deviceId: string, expectedEtag?: string): Promise<boolean> {
    return guarded(this.registry.deleteDevice(deviceId, expectedEtag ?? null));
  }

  countDevices(): Promise<{ total: number; enabled: number; disabled: number }> {
    return guarded(this.registry.countDevices());
  }

  getPolicies(): Promise<PolicyRecord[]> {
    return guarded(this.registry.getPolicies());
  }

  ensurePolicies(policies: PolicyRecord[]): Promise<void> {
    return guarded(this.registry.ensurePolicies(policies));
  }

  getMqttSession(deviceId: string): Promise<MqttSessionRecord | undefined> {
    return guarded(this.registry.getMqttSession(deviceId));
  }

  putMqttSession(session: MqttSessionRecord): Promise<void> {
    return guarded(this.registry.putMqttSession(session));
  }

  deleteMqttSession(deviceId: string): Promise<void> {
    return guarded(this.registry.deleteMqttSession(deviceId));
  }

  /** Bulk registry writes: one transaction on one client, applied in order. */
  async writeDevices(writes: readonly DeviceWrite[]): Promise<boolean[]> {
    const client = await guarded(this.pool.connect());
    try {
      await guarded(client.query('BEGIN'));
      const q = new RegistryQueries(client);
      const results: boolean[] = [];
      for (const w of writes) {
        if (w.kind === 'insert') results.push(await guarded(q.insertDevice(w.device)));
        else if (w.kind === 'replace') results.push(await guarded(q.replaceDevice(w.device, w.expectedEtag ?? null)));
        else results.push(await guarded(q.deleteDevice(w.deviceId, w.expectedEtag ?? null)));
      }
      await guarded(client.query('COMMIT'));
      return results;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  getTwin(deviceId: string): Promise<TwinEntry | undefined> {
    return guarded(this.twins.getTwin(deviceId));
  }

  writeTwin(twin: StoredTwin, expectedVersion: number | null): Promise<TwinWriteResult> {
    return guarded(this.twins.writeTwin(twin, expectedVersion));
  }

  queryTwins(query: TwinPageQuery): Promise<TwinEntry[]> {
    return guarded(this.twins.queryTwins(query));
  }

  listCaCertificates(): Promise<CaCertificateRecord[]> {
    return guarded(this.caCertificates.list());
  }

  getCaCertificate(name: string): Promise<CaCertificateRecord | undefined> {
    return guarded(this.caCertificates.get(name));
  }

  insertCaCertificate(cert: CaCertificateRecord): Promise<boolean> {
    return guarded(this.caCertificates.insert(cert));
  }

  replaceCaCertificate(cert: CaCertificateRecord, expectedEtag: string): Promise<boolean> {
    return guarded(this.caCertificates.replace(cert, expectedEtag));
  }

  deleteCaCertificate(name: string, expectedEtag?: string): Promise<boolean> {
    return guarded(this.caCertificates.delete(name, expectedEtag ?? null));
  }

  async listDevicePage(query: DevicePageQuery): Promise<DeviceRecord[]> {
    const ids = await guarded(this.inspection.devicePageIds(query));
    const records = await Promise.all(ids.map((id) => guarded(this.registry.getDevice(id))));
    return records.filter((r): r is DeviceRecord => r !== undefined);
  }

  messageHistory(deviceId: string, messageId: string, now: number, retentionMs: number): Promise<HistoryEvent[]> {
    return guarded(this.inspection.messageHistory(deviceId, messageId, now, retentionMs));
  }

  listDeadLetters(deviceId: string, now: number, retentionMs: number, limit: number): Promise<DeadLetter[]> {
    return guarded(this.inspection.listDeadLetters(deviceId, now, retentionMs, limit));
  }

  peekMessages(deviceId: string, now: number, limit: number): Promise<PendingMessage[]> {
    return guarded(this.inspection.peekMessages(deviceId, now, limit));
  }

  queueTotals(now: number): Promise<{ enqueued: number; invisible: number }> {
    return guarded(this.inspection.queueTotals(now));
  }

  /** `SELECT 1` on a pooled connection, as a commit would take one. */
  async ping(): Promise<void> {
    await guarded(this.pool.query('SELECT 1'));
  }

  pendingFeedbackRecords(now: number): Promise<number> {
    return guarded(this.inspection.pendingFeedbackRecords(now));
  }

  private closed: Promise<void> | undefined;

  close(): Promise<void> {
    this.closed ??= this.pool.end();
    return this.closed;
  }
}
