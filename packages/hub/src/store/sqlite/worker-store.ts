/**
 * The SQLite store in a worker thread: statement execution and the fsync of every commit happen
 * off the main thread, so protocol I/O goes on while a group commits. Same Store contract, same
 * durability (a commit resolves after the worker's transaction is durable); calls are answered
 * in order. Costs a structured clone of each group and its results (bodies included).
 *
 * The worker runs the compiled store-worker.js; when this module runs from TypeScript sources
 * (tests under tsx), it starts the one in dist/ (built by `tsc --build`).
 */
import { Worker } from 'node:worker_threads';
import type * as J from '../../jobs/types.js';
import type { StoredTwin, TwinEntry, TwinPageQuery, TwinWriteResult } from '../../twins/types.js';
import type {
  ConsumerGroupRecord,
  EventPosition,
  EventSeek,
  EventTrim,
  NewEvent,
  PartitionInfo,
  StoredEvent,
} from '../event-log.js';
import type {
  CaCertificateRecord,
  CommitResult,
  DeadLetter,
  DevicePageQuery,
  DeviceRecord,
  DeviceWrite,
  HistoryEvent,
  MqttSessionRecord,
  NodeRecord,
  NodeRelease,
  PendingMessage,
  PolicyRecord,
  PresenceRecord,
  PresenceWrite,
  QueueOp,
  QueuePolicy,
  Store,
} from '../types.js';
import type { SqliteStoreOptions } from './sqlite-store.js';
import { compiledWorkerScript } from './worker-script.js';
import { type Call, fromWire, type Reply, type StoreMethod, toBuffer, type WireError } from './worker-wire.js';

export class WorkerStore implements Store {
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  private closed = false;
  private failure: Error | undefined;
  /** Committed transactions of commit(), as SqliteStore counts them. */
  commitCount = 0;

  private constructor(private readonly worker: Worker) {}

  /** Starts the worker and opens the database there; rejects as `new SqliteStore` would throw. */
  static async open(options: SqliteStoreOptions): Promise<WorkerStore> {
    const worker = new Worker(compiledWorkerScript('./store-worker.js', import.meta.url), { workerData: options });
    const store = new WorkerStore(worker);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      worker.once('error', onError);
      worker.once('message', (r: Reply) => {
        worker.off('error', onError);
        if (r.ok) resolve();
        else {
          void worker.terminate();
          reject(fromWire(r.error));
        }
      });
    });
    worker.on('message', (r: Reply) => store.answered(r));
    worker.on('error', (err) => store.fail(err));
    worker.on('exit', (code) => store.fail(new Error(`the store worker exited (code ${code})`)));
    return store;
  }

  async commit(ops: readonly QueueOp[], now: number, policy: QueuePolicy): Promise<CommitResult> {
    const r = (await this.call('commit', [ops, now, policy])) as CommitResult;
    if (ops.length) this.commitCount++;
    r.results = r.results.map((x) => {
      if (x.ok && 'deliveries' in x) for (const d of x.deliveries) d.body = toBuffer(d.body) as Buffer;
      return !x.ok && x.error === 'ServerError' ? { ...x, cause: fromWire(x.cause as WireError) } : x;
    });
    return r;
  }

  nextDeadline(policy: QueuePolicy): Promise<number | null> {
    return this.call('nextDeadline', [policy]) as Promise<number | null>;
  }

  queueDepth(deviceId: string, now: number): Promise<number> {
    return this.call('queueDepth', [deviceId, now]) as Promise<number>;
  }

  insertDevice(device: DeviceRecord): Promise<boolean> {
    return this.call('insertDevice', [device]) as Promise<boolean>;
  }

  replaceDevice(device: DeviceRecord, expectedEtag?: string): Promise<boolean> {
    return this.call('replaceDevice', [device, expectedEtag]) as Promise<boolean>;
  }

  getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    return this.call('getDevice', [deviceId]) as Promise<DeviceRecord | undefined>;
  }

  listDevices(limit: number): Promise<DeviceRecord[]> {
    return this.call('listDevices', [limit]) as Promise<DeviceRecord[]>;
  }

  deleteDevice(deviceId: string, expectedEtag?: string): Promise<boolean> {
    return this.call('deleteDevice', [deviceId, expectedEtag]) as Promise<boolean>;
  }

  countDevices(): Promise<{ total: number; enabled: number; disabled: number }> {
    return this.call('countDevices', []) as Promise<{ total: number; enabled: number; disabled: number }>;
  }

  getPolicies(): Promise<PolicyRecord[]> {
    return this.call('getPolicies', []) as Promise<PolicyRecord[]>;
  }

  async ensurePolicies(policies: PolicyRecord[]): Promise<void> {
    await this.call('ensurePolicies', [policies]);
  }

  getMqttSession(deviceId: string): Promise<MqttSessionRecord | undefined> {
    return this.call('getMqttSession', [deviceId]) as Promise<MqttSessionRecord | undefined>;
  }

  async putMqttSession(session: MqttSessionRecord): Promise<void> {
    await this.call('putMqttSession', [session]);
  }

  async deleteMqttSession(deviceId: string): Promise<void> {
    await this.call('deleteMqttSession', [deviceId]);
  }

  writeDevices(writes: readonly DeviceWrite[]): Promise<boolean[]> {
    return this.call('writeDevices', [writes]) as Promise<boolean[]>;
  }

  listCaCertificates(): Promise<CaCertificateRecord[]> {
    return this.call('listCaCertificates', []) as Promise<CaCertificateRecord[]>;
  }

  getCaCertificate(name: string): Promise<CaCertificateRecord | undefined> {
    return this.call('getCaCertificate', [name]) as Promise<CaCertificateRecord | undefined>;
  }

  insertCaCertificate(cert: CaCertificateRecord): Promise<boolean> {
    return this.call('insertCaCertificate', [cert]) as Promise<boolean>;
  }

  replaceCaCertificate(cert: CaCertificateRecord, expectedEtag: string): Promise<boolean> {
    return this.call('replaceCaCertificate', [cert, expectedEtag]) as Promise<boolean>;
  }

  deleteCaCertificate(name: string, expectedEtag?: string): Promise<boolean> {
    return this.call('deleteCaCertificate', [name, expectedEtag]) as Promise<boolean>;
  }

  heartbeatNode(node: NodeRecord): Promise<void> {
    return this.call('heartbeatNode', [node]) as Promise<void>;
  }

  listNodes(): Promise<NodeRecord[]> {
    return this.call('listNodes', []) as Promise<NodeRecord[]>;
  }

  releaseNodes(now: number, release: NodeRelease): Promise<string[]> {
    return this.call('releaseNodes', [now, release]) as Promise<string[]>;
  }

  writePresence(writes: readonly PresenceWrite[]): Promise<void> {
    return this.call('writePresence', [writes]) as Promise<void>;
  }

  getPresence(deviceId: string): Promise<PresenceRecord | undefined> {
    return this.call('getPresence', [deviceId]) as Promise<PresenceRecord | undefined>;
  }

  countConnected(): Promise<number> {
    return this.call('countConnected', []) as Promise<number>;
  }

  listDevicePage(query: DevicePageQuery): Promise<DeviceRecord[]> {
    return this.call('listDevicePage', [query]) as Promise<DeviceRecord[]>;
  }

  async peekMessages(deviceId: string, now: number, limit: number): Promise<PendingMessage[]> {
    const messages = (await this.call('peekMessages', [deviceId, now, limit])) as PendingMessage[];
    for (const m of messages) m.body = toBuffer(m.body) as Buffer;
    return messages;
  }

  messageHistory(deviceId: string, messageId: string, now: number, retentionMs: number): Promise<HistoryEvent[]> {
    return this.call('messageHistory', [deviceId, messageId, now, retentionMs]) as Promise<HistoryEvent[]>;
  }

  async listDeadLetters(deviceId: string, now: number, retentionMs: number, limit: number): Promise<DeadLetter[]> {
    const letters = (await this.call('listDeadLetters', [deviceId, now, retentionMs, limit])) as DeadLetter[];
    for (const m of letters) m.body = toBuffer(m.body) as Buffer;
    return letters;
  }

  queueTotals(now: number): Promise<{ enqueued: number; invisible: number }> {
    return this.call('queueTotals', [now]) as Promise<{ enqueued: number; invisible: number }>;
  }

  /** A round trip to the worker thread and its database (a worker stuck in a commit answers late). */
  async ping(): Promise<void> {
    await this.call('ping', []);
  }

  getTwin(deviceId: string): Promise<TwinEntry | undefined> {
    return this.call('getTwin', [deviceId]) as Promise<TwinEntry | undefined>;
  }

  writeTwin(twin: StoredTwin, expectedVersion: number | null): Promise<TwinWriteResult> {
    return this.call('writeTwin', [twin, expectedVersion]) as Promise<TwinWriteResult>;
  }

  queryTwins(query: TwinPageQuery): Promise<TwinEntry[]> {
    return this.call('queryTwins', [query]) as Promise<TwinEntry[]>;
  }

  pendingFeedbackRecords(now: number): Promise<number> {
    return this.call('pendingFeedbackRecords', [now]) as Promise<number>;
  }

  appendEvents(events: readonly NewEvent[], now: number): Promise<EventPosition[]> {
    return this.call('appendEvents', [events, now]) as Promise<EventPosition[]>;
  }

  async readEvents(partition: number, fromSequence: number, limit: number): Promise<StoredEvent[]> {
    const events = (await this.call('readEvents', [partition, fromSequence, limit])) as StoredEvent[];
    for (const e of events) e.body = toBuffer(e.body) as Buffer;
    return events;
  }

  seekEvents(partition: number, seek: EventSeek): Promise<number> {
    return this.call('seekEvents', [partition, seek]) as Promise<number>;
  }

  partitionInfo(partition: number): Promise<PartitionInfo> {
    return this.call('partitionInfo', [partition]) as Promise<PartitionInfo>;
  }

  trimEvents(partitions: number, trim: EventTrim): Promise<number> {
    return this.call('trimEvents', [partitions, trim]) as Promise<number>;
  }

  listConsumerGroups(): Promise<ConsumerGroupRecord[]> {
    return this.call('listConsumerGroups', []) as Promise<ConsumerGroupRecord[]>;
  }

  insertConsumerGroup(group: ConsumerGroupRecord): Promise<boolean> {
    return this.call('insertConsumerGroup', [group]) as Promise<boolean>;
  }

  deleteConsumerGroup(name: string): Promise<boolean> {
    return this.call('deleteConsumerGroup', [name]) as Promise<boolean>;
  }

  insertJob(job: J.JobRecord): Promise<boolean> {
    return this.call('insertJob', [job]) as Promise<boolean>;
  }

  getJob(jobId: string): Promise<J.JobRecord | undefined> {
    return this.call('getJob', [jobId]) as Promise<J.JobRecord | undefined>;
  }

  listJobs(query: J.JobListQuery): Promise<J.JobRecord[]> {
    return this.call('listJobs', [query]) as Promise<J.JobRecord[]>;
  }

  claimJob(owner: string, now: number, leaseMs: number): Promise<J.JobRecord | undefined> {
    return this.call('claimJob', [owner, now, leaseMs]) as Promise<J.JobRecord | undefined>;
  }

  updateJob(jobId: string, change: J.JobChange, owner: string | null): Promise<boolean> {
    return this.call('updateJob', [jobId, change, owner]) as Promise<boolean>;
  }

  async addJobDevices(jobId: string, deviceIds: readonly string[], through: string, now: number): Promise<void> {
    await this.call('addJobDevices', [jobId, deviceIds, through, now]);
  }

  pendingJobDevices(jobId: string, afterDeviceId: string, limit: number): Promise<string[]> {
    return this.call('pendingJobDevices', [jobId, afterDeviceId, limit]) as Promise<string[]>;
  }

  recordJobDevices(jobId: string, results: readonly J.DeviceJobResult[], now: number): Promise<number> {
    return this.call('recordJobDevices', [jobId, results, now]) as Promise<number>;
  }

  closeJobDevices(
    jobId: string,
    status: 'failed' | 'cancelled',
    error: J.DeviceJobError | null,
    now: number,
  ): Promise<number> {
    return this.call('closeJobDevices', [jobId, status, error, now]) as Promise<number>;
  }

  countJobDevices(jobId: string): Promise<J.DeviceJobCounts> {
    return this.call('countJobDevices', [jobId]) as Promise<J.DeviceJobCounts>;
  }

  listJobDevices(jobId: string, afterDeviceId: string, limit: number): Promise<J.DeviceJobRecord[]> {
    return this.call('listJobDevices', [jobId, afterDeviceId, limit]) as Promise<J.DeviceJobRecord[]>;
  }

  deleteFinishedJobs(endedBefore: number, limit: number): Promise<number> {
    return this.call('deleteFinishedJobs', [endedBefore, limit]) as Promise<number>;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.call('close', []);
    } finally {
      this.closed = true;
      await this.worker.terminate();
    }
  }

  private call(method: StoreMethod, args: unknown[]): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, method, args } satisfies Call);
    });
  }

  private answered(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    if (r.ok) p.resolve(r.value);
    else p.reject(fromWire(r.error));
  }

  /** The worker died: every call waiting and every later call fails with the reason. */
  private fail(err: Error): void {
    if (this.closed) return;
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
