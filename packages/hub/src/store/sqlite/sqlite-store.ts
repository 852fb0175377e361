/**
 * The Store on SQLite (better-sqlite3 12.x): WAL, every write on disk before it is answered by
 * default (the WAL synced off the event loop, wal-sync.ts), versioned migrations. better-sqlite3
 * is synchronous, so every transaction opens and commits inside one call; nothing is held across
 * an await (the WAL sync a write waits for comes after its transaction has ended). A commit
 * applies its ops in one transaction without savepoints; when an op throws, that transaction is
 * rolled back and the group is applied again with a savepoint per op, so the op that throws is
 * rolled back alone.
 */
import Database from 'better-sqlite3';
import type { StoredTwin, TwinEntry, TwinPageQuery, TwinWriteResult } from '../../twins/types.js';
import type { EventPosition, EventTrim, NewEvent } from '../event-log.js';
import type { StepDetail } from '../history-rows.js';
import type {
  CaCertificateRecord,
  CommitResult,
  DeadLetter,
  DevicePageQuery,
  DeviceRecord,
  DeviceWrite,
  EnqueueResult,
  FailedResult,
  HistoryEvent,
  JobCopyRefused,
  MqttSessionRecord,
  NewMessage,
  NodeRecord,
  NodeRelease,
  PendingMessage,
  PolicyRecord,
  PresenceWrite,
  QueueOp,
  QueueOpResult,
  QueuePolicy,
  Store,
} from '../types.js';
import { CaCertificateTable } from './ca-certificate-table.js';
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer.js';
import { ClusterTables } from './cluster-tables.js';
import { CommitContext } from './commit-context.js';
import { DeadLetterTable } from './dead-letter-table.js';
import { EventLogTables } from './event-log-tables.js';
import { FeedbackQueue } from './feedback-queue.js';
import { HistoryTable } from './history-table.js';
import { InspectionQueries } from './inspection-queries.js';
import { JobTables } from './job-tables.js';
import { MessageQueue } from './message-queue.js';
import { migrate } from './migrations.js';
import { RegistryTables } from './registry-tables.js';
import { SessionWrites } from './session-writes.js';
import { SqliteEventStore } from './sqlite-event-store.js';
import { checkedOptions, type SqliteStoreOptions } from './sqlite-store-options.js';
import { TwinTable } from './twin-table.js';
import { WalSync } from './wal-sync.js';

export type { SqliteStoreOptions } from './sqlite-store-options.js';

export class SqliteStore extends SqliteEventStore implements Store {
  private readonly db: Database.Database;
  private readonly registry: RegistryTables;
  private readonly cluster: ClusterTables;
  private readonly caCertificates: CaCertificateTable;
  private readonly messages: MessageQueue;
  private readonly deadLetters: DeadLetterTable;
  private readonly history: HistoryTable;
  private readonly feedback: FeedbackQueue;
  private readonly inspection: InspectionQueries;
  private readonly twins: TwinTable;
  protected readonly jobs: JobTables;
  protected readonly events: EventLogTables;
  protected readonly appendAll: (events: readonly NewEvent[], now: number) => EventPosition[];
  protected readonly trimAll: (partitions: number, trim: EventTrim) => number;
  private readonly applyIsolated: (op: QueueOp, ctx: CommitContext) => QueueOpResult;
  private readonly commitAll: Database.Transaction<(ops: readonly QueueOp[], ctx: CommitContext) => QueueOpResult[]>;
  private readonly commitIsolated: Database.Transaction<
    (ops: readonly QueueOp[], ctx: CommitContext) => QueueOpResult[]
  >;
  private readonly dataVersion: () => number;
  private lastDataVersion = -1;
  private readonly ensureAll: (policies: PolicyRecord[]) => void;
  private readonly sessionWrites: SessionWrites;
  private readonly checkpointer: Checkpointer | undefined;
  /** Syncs the WAL before writes are answered; undefined for NORMAL and ':memory:'. */
  private readonly walSync: WalSync | undefined;
  /** Committed transactions of commit(); lets tests and the bench see group commit at work. */
  commitCount = 0;

  constructor(options: SqliteStoreOptions) {
    super();
    const { synchronous, pageCacheMb } = checkedOptions(options);
    this.db = new Database(options.path);
    this.db.pragma(`cache_size = -${pageCacheMb * 1024}`);
    if (options.path !== ':memory:') this.db.pragma('journal_mode = WAL');
    // FULL is kept by syncing the WAL before answering (WalSync), not inside COMMIT.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db, Date.now());
    if (options.path !== ':memory:' && synchronous === 'FULL') {
      this.walSync = new WalSync(`${options.path}-wal`);
      this.walSync.syncNow();
    }
    if (options.path !== ':memory:' && options.checkpointThread !== false) {
      // Checkpoints run in a thread of their own (checkpointer.ts); this connection's are the fallback.
      this.db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
      this.checkpointer = new Checkpointer(options.path, options.onCheckpointError ?? (() => undefined));
    }

    this.registry = new RegistryTables(this.db);
    this.cluster = new ClusterTables(this.db);
    this.caCertificates = new CaCertificateTable(this.db);
    this.feedback = new FeedbackQueue(this.db);
    this.deadLetters = new DeadLetterTable(this.db);
    this.history = new HistoryTable(this.db);
    this.messages = new MessageQueue(this.db, this.feedback, this.deadLetters, this.history);
    this.inspection = new InspectionQueries(this.db);
    this.twins = new TwinTable(this.db);
    this.jobs = new JobTables(this.db);
    this.events = new EventLogTables(this.db);
    const append = this.db.transaction((events: readonly NewEvent[], now: number) => this.events.append(events, now));
    this.appendAll = (events, now) => append.immediate(events, now);
    const trim = this.db.transaction((partitions: number, t: EventTrim) => this.events.trim(partitions, t));
    this.trimAll = (partitions, t) => trim.immediate(partitions, t);
    // Called inside the outer transaction, better-sqlite3 turns this into a SAVEPOINT.
    this.applyIsolated = this.db.transaction((op: QueueOp, ctx: CommitContext) => this.apply(op, ctx));
    this.commitIsolated = this.db.transaction((ops: readonly QueueOp[], ctx: CommitContext) => {
      this.noticeOtherWriters();
      const results = ops.map((op): QueueOpResult => {
        const recordsBefore = ctx.feedbackRecords.length;
        try {
          return this.applyIsolated(op, ctx);
        } catch (cause) {
          // Its savepoint was rolled back, and so were the feedback records it appended and any
          // sequence numbers it reserved.
          ctx.feedbackRecords.length = recordsBefore;
          this.messages.forget();
          // SQLITE_FULL, SQLITE_IOERR and the like roll the whole transaction back: fail the
          // commit with that cause (not a later "no transaction is active").
          if (!this.db.inTransaction) throw cause;
          return { ok: false, error: 'ServerError', cause } satisfies FailedResult;
        }
      });
      if (ctx.feedbackAppended) this.feedback.makeBatches(ctx);
      return results;
    });
    // The usual case: no op throws, so no savepoint statements at all.
    this.commitAll = this.db.transaction((ops: readonly QueueOp[], ctx: CommitContext) => {
      this.noticeOtherWriters();
      const results = ops.map((op) => this.apply(op, ctx));
      if (ctx.feedbackAppended) this.feedback.makeBatches(ctx);
      return results;
    });
    // Changes when another connection commits to the file; then the in-memory due floor is stale.
    const version = this.db.prepare<[], { data_version: number }>('PRAGMA data_version');
    this.dataVersion = () => version.get()!.data_version;
    this.ensureAll = this.db.transaction((policies: PolicyRecord[]) => this.registry.ensurePolicies(policies));
    this.sessionWrites = new SessionWrites(this.db, this.registry, (done) =>
      this.walSync ? this.walSync.after(done) : done(null),
    );
  }

  /**
   * Inside the write transaction (nobody else can commit until it ends): when another connection
   * has committed since (data_version moved; our own commits leave it alone), what memory holds
   * of the table (due floor, next row id, reserved sequence numbers) is stale.
   */
  private noticeOtherWriters(): void {
    const version = this.dataVersion();
    this.messages.beginTransaction(version !== this.lastDataVersion);
    this.lastDataVersion = version;
  }

  async commit(
    ops: readonly QueueOp[],
    now: number,
    policy: QueuePolicy,
    onCommitted?: (result: CommitResult) => void,
  ): Promise<CommitResult> {
    if (ops.length === 0) return { results: [], wokenDevices: [], feedbackAvailable: false, earliestDeadline: null };
    let ctx = new CommitContext(now, policy, ops);
    let results: QueueOpResult[];
    try {
      results = this.commitAll.immediate(ops, ctx);
    } catch {
      // Rolled back: apply the group again, each op in its own savepoint. What the first try
      // learnt in memory (the due floor, sequence numbers reserved) may describe rows that are
      // back, so it is re-read.
      this.messages.forget();
      ctx = new CommitContext(now, policy, ops);
      try {
        results = this.commitIsolated.immediate(ops, ctx);
      } catch (err) {
        this.messages.forget();
        throw err;
      }
    }
    this.commitCount++;
    const result: CommitResult = {
      results,
      wokenDevices: [...ctx.woken],
      feedbackAvailable: ctx.feedbackAvailable,
      earliestDeadline: ctx.earliestDeadline,
    };
    if (ctx.feedbackRecords.length) result.feedbackRecords = ctx.feedbackRecords;
    if (this.walSync) {
      // Committed in the WAL (a kill -9 keeps it: the page cache is the kernel's), not yet synced.
      onCommitted?.(result);
      await this.walSync.durable(ops.length);
    }
    return result;
  }

  private apply(op: QueueOp, ctx: CommitContext): QueueOpResult {
    switch (op.kind) {
      case 'enqueue':
        return op.job === undefined
          ? this.messages.enqueue(op.message, ctx, originOf(op))
          : this.enqueueCopy(op.job, op.message, ctx, originOf(op));
      case 'lease':
        return this.messages.lease(op.deviceId, op.max, ctx, ctx.directByOp.get(op), op.protocol);
      case 'settle':
        return this.messages.settle(op.deviceId, op.lockToken, op.action, ctx);
      case 'release':
        return this.messages.release(op.deviceId, op.lockTokens, ctx);
      case 'purge':
        return this.messages.purge(op.deviceId, ctx);
      case 'expire': {
        const m = this.messages.expireDue(ctx, op.limit);
        const f = this.feedback.expireDue(ctx, op.limit);
        this.feedback.makeBatches(ctx);
        const d = this.deadLetters.expireDue(ctx, op.limit);
        const h = this.history.expireDue(ctx, op.limit);
        return { ok: true, expired: m.expired, locksExpired: m.locksExpired, more: m.more || f.more || d || h };
      }
      case 'requeueDeadLetter':
        return this.messages.requeueDeadLetter(op.deviceId, op.sequenceNumber, op.expiryTimeUtc, ctx);
      case 'deleteDeadLetter':
        return this.deadLetters.delete(op.deviceId, op.sequenceNumber, ctx)
          ? { ok: true }
          : { ok: false, error: 'DeadLetterNotFound' };
      case 'leaseFeedback':
        return this.feedback.lease(ctx);
      case 'settleFeedback':
        return this.feedback.settle(op.lockToken, op.action, ctx);
    }
  }

  /** A C2D job's copy: sent only while the job's ledger row is pending, and the row marked in the same transaction. */
  private enqueueCopy(
    jobId: string,
    m: NewMessage,
    ctx: CommitContext,
    origin: StepDetail,
  ): EnqueueResult | JobCopyRefused {
    if (!this.jobs.copyPending(jobId, m.deviceId)) return { ok: false, error: 'JobDeviceNotPending' };
    const r = this.messages.enqueue(m, ctx, origin);
    if (r.ok) this.jobs.copySent(jobId, m.deviceId, r.sequenceNumber, m.messageId, ctx.now);
    return r;
  }

  async nextDeadline(policy: QueuePolicy): Promise<number | null> {
    const times = [
      this.messages.nextDeadline(),
      this.feedback.nextDeadline(policy),
      this.deadLetters.nextDeadline(policy),
      this.history.nextDeadline(policy),
    ].filter((t): t is number => t !== null);
    return times.length ? Math.min(...times) : null;
  }

  async queueDepth(deviceId: string, now: number): Promise<number> {
    return this.messages.queueDepth(deviceId, now);
  }

  async insertDevice(device: DeviceRecord): Promise<boolean> {
    return this.synced(this.registry.insertDevice(device));
  }

  async replaceDevice(device: DeviceRecord, expectedEtag?: string): Promise<boolean> {
    this.messages.sequenceNumbers.deviceWritten(device.deviceId);
    return this.synced(this.registry.replaceDevice(device, expectedEtag ?? null));
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    return this.registry.getDevice(deviceId);
  }

  async listDevices(limit: number): Promise<DeviceRecord[]> {
    return this.registry.listDevices(limit);
  }

  async deleteDevice(deviceId: string, expectedEtag?: string): Promise<boolean> {
    // A session write issued before must not bring the session back after the device is gone.
    this.sessionWrites.flush();
    this.messages.sequenceNumbers.forgetDevice(deviceId);
    return this.synced(this.registry.deleteDevice(deviceId, expectedEtag ?? null));
  }

  async countDevices(): Promise<{ total: number; enabled: number; disabled: number }> {
    return this.registry.countDevices();
  }

  async getPolicies(): Promise<PolicyRecord[]> {
    return this.registry.getPolicies();
  }

  async ensurePolicies(policies: PolicyRecord[]): Promise<void> {
    this.ensureAll(policies);
    await this.walSync?.durable();
  }

  async getMqttSession(deviceId: string): Promise<MqttSessionRecord | undefined> {
    // A write issued before this read and not yet committed is the answer (a fleet reconnecting
    // must not commit its SUBSCRIBEs one CONNECT at a time).
    const waiting = this.sessionWrites.waitingFor(deviceId);
    if (waiting !== undefined) return waiting === null ? undefined : { ...waiting };
    return this.registry.getMqttSession(deviceId);
  }

  putMqttSession(session: MqttSessionRecord): Promise<void> {
    return this.sessionWrites.submit({ put: { ...session } });
  }

  deleteMqttSession(deviceId: string): Promise<void> {
    return this.sessionWrites.submit({ remove: deviceId });
  }

  async writeDevices(writes: readonly DeviceWrite[]): Promise<boolean[]> {
    const numbers = this.messages.sequenceNumbers;
    for (const w of writes) {
      if (w.kind === 'delete') numbers.forgetDevice(w.deviceId);
      else numbers.deviceWritten(w.device.deviceId);
    }
    return writes.length ? this.synced(this.registry.writeDevices(writes)) : [];
  }

  async listCaCertificates(): Promise<CaCertificateRecord[]> {
    return this.caCertificates.list();
  }

  async getCaCertificate(name: string): Promise<CaCertificateRecord | undefined> {
    return this.caCertificates.find(name);
  }

  async insertCaCertificate(cert: CaCertificateRecord): Promise<boolean> {
    return this.synced(this.caCertificates.add(cert));
  }

  async replaceCaCertificate(cert: CaCertificateRecord, expectedEtag: string): Promise<boolean> {
    return this.synced(this.caCertificates.put(cert, expectedEtag));
  }

  async deleteCaCertificate(name: string, expectedEtag?: string): Promise<boolean> {
    return this.synced(this.caCertificates.delete(name, expectedEtag ?? null));
  }

  // Nodes and presence (cluster-tables.ts).
  readonly heartbeatNode = async (node: NodeRecord) => this.cluster.heartbeat(node);
  readonly listNodes = async () => this.cluster.listNodes();
  readonly releaseNodes = async (now: number, release: NodeRelease) => this.cluster.release(now, release);
  readonly writePresence = async (writes: readonly PresenceWrite[]) => this.cluster.write(writes);
  readonly getPresence = async (deviceId: string) => this.cluster.get(deviceId);
  readonly countConnected = async () => this.cluster.countConnected();

  async listDevicePage(query: DevicePageQuery): Promise<DeviceRecord[]> {
    return this.inspection.devicePageIds(query).flatMap((id) => this.registry.getDevice(id) ?? []);
  }

  async peekMessages(deviceId: string, now: number, limit: number): Promise<PendingMessage[]> {
    return this.inspection.peekMessages(deviceId, now, limit);
  }

  async listDeadLetters(deviceId: string, now: number, retentionMs: number, limit: number): Promise<DeadLetter[]> {
    return this.deadLetters.listDeadLetters(deviceId, now, retentionMs, limit);
  }

  async messageHistory(deviceId: string, messageId: string, now: number, retentionMs: number): Promise<HistoryEvent[]> {
    return this.history.messageHistory(deviceId, messageId, now, retentionMs);
  }

  async queueTotals(now: number): Promise<{ enqueued: number; invisible: number }> {
    return this.inspection.queueTotals(now);
  }

  async getTwin(deviceId: string): Promise<TwinEntry | undefined> {
    return this.twins.getTwin(deviceId);
  }

  async writeTwin(twin: StoredTwin, expectedVersion: number | null): Promise<TwinWriteResult> {
    return this.synced(this.twins.writeTwin(twin, expectedVersion));
  }

  async queryTwins(query: TwinPageQuery): Promise<TwinEntry[]> {
    return this.twins.queryTwins(query);
  }

  async pendingFeedbackRecords(now: number): Promise<number> {
    return this.inspection.pendingFeedbackRecords(now);
  }

  /** `value`, once what was written to get it is on disk. */
  protected async synced<T>(value: T): Promise<T> {
    await this.walSync?.durable();
    return value;
  }

  /** Once what was written so far (`ops` operations just now) is on disk. */
  protected async durable(ops?: number): Promise<void> {
    await this.walSync?.durable(ops);
  }

  /**
   * Gives back the sequence numbers reserved and not used, so that a clean restart goes on from
   * the last one used. Skipped when another connection has written since (memory is then stale);
   * a failure here leaves a gap in the numbers, nothing worse.
   */
  private releaseSeqBlocks(): void {
    if (!this.messages.sequenceNumbers.holdsBlocks()) return;
    try {
      this.db
        .transaction(() => {
          this.noticeOtherWriters();
          this.messages.sequenceNumbers.releaseBlocks();
        })
        .immediate();
    } catch {
      this.messages.forget();
    }
  }

  /**
   * Empties the connection's page cache (SQLite's `shrink_memory`): for the hub's idle release
   * (observability/idle-memory.ts), so what a burst read into it goes back to glibc, then to the
   * system with the trim that follows. The next reads fill it again from the file (the OS's cache).
   */
  releaseMemory(): void {
    if (this.db.open) this.db.pragma('shrink_memory');
  }

  async ping(): Promise<void> {
    // A closed database throws here: the probe fails, as it should.
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.sessionWrites.flush();
    this.releaseSeqBlocks();
    await this.walSync?.close();
    // The last connection to close checkpoints the WAL and removes it: this one.
    await this.checkpointer?.stop();
    if (!this.db.open) return;
    this.db.close();
  }
}

/** What an enqueue's history step tells of its sender (docs/message-history.md). */
function originOf(op: Extract<QueueOp, { kind: 'enqueue' }>): StepDetail {
  return { via: op.origin?.policy, jobId: op.job };
}
