/**
 * The Store: whole domain operations over batches, shaped by C2D semantics, not by SQL.
 * Adapters: sqlite/ (better-sqlite3 12.x) now, postgres/ (pg) later; both must pass
 * test/store-contract. No transaction handle ever crosses an await.
 */
import type {
  Delivery,
  FeedbackBatch,
  FeedbackRecord,
  HistoryStepFields,
  HistoryStepKind,
  StoredMessage,
} from '@ferry/common';
import type { JobStore } from '../jobs/types.js';
import type { TwinStore } from '../twins/types.js';
import type { EventLogStore } from './event-log.js';

/** A device identity row, as the registry keeps it. */
export interface DeviceRecord {
  deviceId: string;
  generationId: string;
  etag: string;
  status: 'enabled' | 'disabled';
  statusReason: string | null;
  /** ISO 8601 */
  statusUpdatedTime: string;
  authType: 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';
  primaryKey: string | null;
  secondaryKey: string | null;
  primaryThumbprint: string | null;
  secondaryThumbprint: string | null;
  iotEdge: boolean;
}

export interface PolicyRecord {
  keyName: string;
  primaryKey: string;
  secondaryKey: string;
  /** e.g. ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] */
  rights: string[];
}

/** A persistent MQTT session (clean session 0). */
export interface MqttSessionRecord {
  deviceId: string;
  /** Granted QoS of the C2D subscription, or null when not subscribed. */
  c2dQos: 0 | 1 | null;
  /** The twin topics subscribed to (absent: none). */
  twin?: { responses: boolean; desired: boolean };
  /** Subscribed to direct methods ($iothub/methods/POST/#; absent: not). */
  methods?: true;
}

export interface RegistryStore {
  /** Insert; resolves false when the id already exists. */
  insertDevice(device: DeviceRecord): Promise<boolean>;
  /** Replace when the stored etag equals expectedEtag (or unconditionally when undefined); false when missing or mismatched. */
  replaceDevice(device: DeviceRecord, expectedEtag?: string): Promise<boolean>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(limit: number): Promise<DeviceRecord[]>;
  /** Deletes the device, its C2D queue, its MQTT session, its pending (not yet batched) feedback and its twin. */
  deleteDevice(deviceId: string, expectedEtag?: string): Promise<boolean>;
  countDevices(): Promise<{ total: number; enabled: number; disabled: number }>;
  getPolicies(): Promise<PolicyRecord[]>;
  /** Inserts the policies that do not exist yet (first start). */
  ensurePolicies(policies: PolicyRecord[]): Promise<void>;
  getMqttSession(deviceId: string): Promise<MqttSessionRecord | undefined>;
  putMqttSession(session: MqttSessionRecord): Promise<void>;
  deleteMqttSession(deviceId: string): Promise<void>;
  /**
   * Bulk registry writes (POST /devices): applied in ONE transaction, in order; each result is what
   * the single-device method (insertDevice, replaceDevice, deleteDevice) would have returned.
   */
  writeDevices(writes: readonly DeviceWrite[]): Promise<boolean[]>;
}

export type DeviceWrite =
  | { kind: 'insert'; device: DeviceRecord }
  | { kind: 'replace'; device: DeviceRecord; expectedEtag?: string }
  | { kind: 'delete'; deviceId: string; expectedEtag?: string };

// ---------------------------------------------------------------------------------------------
// Hub CA certificates (X.509 certificateAuthority devices chain to a verified one). A few rows at
// most (IoT Hub allows 25); subject, expiry and thumbprint are read from the PEM, not stored.
// ---------------------------------------------------------------------------------------------

export interface CaCertificateRecord {
  /** 1-64 of A-Z a-z 0-9 - . _ */
  name: string;
  etag: string;
  certificatePem: string;
  isVerified: boolean;
  /** The pending proof-of-possession code, or null. */
  verificationCode: string | null;
  /** ms since the epoch */
  createdAt: number;
  updatedAt: number;
}

export interface CaCertificateStore {
  /** Ordered by name. */
  listCaCertificates(): Promise<CaCertificateRecord[]>;
  getCaCertificate(name: string): Promise<CaCertificateRecord | undefined>;
  /** Insert; false when the name exists. */
  insertCaCertificate(cert: CaCertificateRecord): Promise<boolean>;
  /** Replace when the stored etag equals expectedEtag; false when missing or mismatched. */
  replaceCaCertificate(cert: CaCertificateRecord, expectedEtag: string): Promise<boolean>;
  /** Delete (when the etag matches, if given); false when missing or mismatched. */
  deleteCaCertificate(name: string, expectedEtag?: string): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// The C2D part. Every write is a domain operation (QueueOp); `commit` applies a group of them in
// ONE transaction, in order, each isolated from the others, so the engine can group-commit
// whatever arrived while the previous commit was in flight. An op sees the effects of the ops
// before it in the same group (the engine puts a lease right after an enqueue for a device that
// is waiting: direct delivery, one transaction). Isolation may be a savepoint per op, or (cheaper)
// the whole group without savepoints, replayed op by op with savepoints only when one op threw.
// Outcomes that the protocol knows (lock lost, queue full, ...) are results, not exceptions.
// Deadlines that were due before `now` are applied lazily by every operation that touches the
// device (or the feedback queue), so results never depend on whether the scheduler has run yet.
// Lock tokens are minted by the store: UUID-shaped strings (8-4-4-4-12 hex digits, as the
// protocols carry them), opaque to everyone else; a store may encode its row id in them.
// ---------------------------------------------------------------------------------------------

/** The limits the store applies; the engine passes its configuration with every commit. */
export interface QueuePolicy {
  maxQueueDepth: number;
  maxDeliveryCount: number;
  /** Decision 1: lock expiry (and release) raise the delivery count too. */
  countLockExpiry: boolean;
  lockTimeoutMs: number;
  /** Dead letters kept (docs/dead-letters.md): retentionMs 0 = dropped, as IoT Hub does. */
  deadLetters: { retentionMs: number; maxPerDevice: number };
  /** Each message's story (docs/message-history.md), kept this long after its end; 0 = none recorded. */
  history: { retentionMs: number };
  feedback: {
    batchMaxRecords: number;
    /** 0 = batch at once */
    batchDelayMs: number;
    lockDurationMs: number;
    ttlMs: number;
    maxDeliveryCount: number;
  };
}

/** A message to enqueue (expiry already validated by the engine); the store assigns the sequence number and enqueued time. */
export type NewMessage = Omit<StoredMessage, 'sequenceNumber' | 'enqueuedTimeUtc' | 'deliveryCount'>;

export type SettleAction = 'complete' | 'abandon' | 'reject';

/** Who sent a message, for its history's "enqueued" step (docs/message-history.md). */
export interface SendOrigin {
  /** The shared access policy that sent it (a job's copies carry their job id in the op's `job`). */
  policy?: string;
}

export type QueueOp =
  /**
   * Checks device exists + enabled and depth (Enqueued + Invisible) < maxQueueDepth. `job`: the
   * copy of a C2D job (jobs/), sent only while the job's ledger row for the device is pending and
   * marked sent in the same transaction, so a job that resumes never sends a second copy.
   * `origin`: the sender, for the message's history.
   */
  | { kind: 'enqueue'; message: NewMessage; job?: string; origin?: SendOrigin }
  /**
   * Leases up to max of the device's lowest-sequence Enqueued messages, one new lock token each.
   * `direct`: the engine's waiting receiver, added after the group's enqueues for its device. It
   * promises that the device had no Enqueued message when the group began (the receiver's last
   * lease came back empty and nothing woke it since), so a store may lock the messages this group
   * enqueues for the device as it inserts them, without looking for older ones. A store may
   * ignore it: the results are the same.
   */
  | { kind: 'lease'; deviceId: string; max: number; direct?: true; protocol?: string }
  | { kind: 'settle'; deviceId: string; lockToken: string; action: SettleAction }
  /** Back to Enqueued as a lock expiry would; unknown tokens are ignored. */
  | { kind: 'release'; deviceId: string; lockTokens: readonly string[] }
  /** Dead-letters every pending message of the device with status Purged. */
  | { kind: 'purge'; deviceId: string }
  /** The scheduler's work: TTL and lock expiries, feedback batching, feedback lock/TTL, at most `limit` of each. */
  | { kind: 'expire'; limit: number }
  /**
   * A kept dead letter back at the tail of its device's queue: a new sequence number, delivery
   * count 0, expiry `expiryTimeUtc`; checked as an enqueue is (device, depth). Removed from the
   * dead letters when it succeeds.
   */
  | { kind: 'requeueDeadLetter'; deviceId: string; sequenceNumber: number; expiryTimeUtc: number }
  | { kind: 'deleteDeadLetter'; deviceId: string; sequenceNumber: number }
  | { kind: 'leaseFeedback' }
  | { kind: 'settleFeedback'; lockToken: string; action: SettleAction };

export type EnqueueResult =
  | { ok: true; sequenceNumber: number }
  | { ok: false; error: 'DeviceNotFound' | 'DeviceMaximumQueueDepthExceeded' };
/** A job's copy whose ledger row is no longer pending: it was sent before (or the job was cancelled). */
export type JobCopyRefused = { ok: false; error: 'JobDeviceNotPending' };
export type LeaseResult = { ok: true; deliveries: Delivery[] };
export type SettleResult =
  | { ok: true; outcome: 'completed' | 'requeued' | 'deadLettered' }
  | { ok: false; error: 'DeviceMessageLockLost' };
export type ReleaseResult = { ok: true; released: number };
export type PurgeResult = { ok: true; purged: number } | { ok: false; error: 'DeviceNotFound' };
/** `more` is true when a limit was reached: call again at once. */
export type ExpireResult = { ok: true; expired: number; locksExpired: number; more: boolean };
export type RequeueDeadLetterResult =
  | { ok: true; sequenceNumber: number }
  | { ok: false; error: 'DeviceNotFound' | 'DeviceMaximumQueueDepthExceeded' | 'DeadLetterNotFound' };
export type DeleteDeadLetterResult = { ok: true } | { ok: false; error: 'DeadLetterNotFound' };
export type LeaseFeedbackResult = { ok: true; batch: FeedbackBatch | null };
export type SettleFeedbackResult = { ok: true } | { ok: false; error: 'DeviceMessageLockLost' };
/** An operation that threw (a bug or a storage fault); its effects were rolled back, the others' kept. */
export type FailedResult = { ok: false; error: 'ServerError'; cause: unknown };

export interface QueueOpResults {
  enqueue: EnqueueResult | JobCopyRefused;
  lease: LeaseResult;
  settle: SettleResult;
  release: ReleaseResult;
  purge: PurgeResult;
  expire: ExpireResult;
  requeueDeadLetter: RequeueDeadLetterResult;
  deleteDeadLetter: DeleteDeadLetterResult;
  leaseFeedback: LeaseFeedbackResult;
  settleFeedback: SettleFeedbackResult;
}

export type QueueOpResult<K extends QueueOp['kind'] = QueueOp['kind']> = QueueOpResults[K] | FailedResult;

export interface CommitResult {
  /** One per op, in order. */
  results: QueueOpResult[];
  /** Devices that have a message newly available (enqueue, abandon, release, lock expiry). */
  wokenDevices: string[];
  /** True when a feedback batch became available (new batch, abandon, lock expiry). */
  feedbackAvailable: boolean;
  /** Feedback records this commit created, in order (for the console's live feed); absent = none. */
  feedbackRecords?: FeedbackRecord[];
  /**
   * A lower bound of the deadlines this commit created (a new message's TTL, a lock, a feedback
   * batch due, a feedback message's lock or TTL); null when it created none. The engine keeps
   * its timer at the earliest of these and asks `nextDeadline` only at start and after handling
   * what was due, never after every commit. Removing deadlines needs no report (an early timer
   * only finds nothing due). Exact for a single op; it may be earlier, never later.
   */
  earliestDeadline: number | null;
}

export interface QueueStore {
  /**
   * Applies ops in one transaction, in order, each isolated; resolves after the commit is durable.
   *
   * A store that makes a commit visible before it is on disk (SQLite, whose WAL is synced after
   * the transaction, off the event loop) calls `onCommitted` with the same result at that point:
   * the next transaction will see this one, but a power cut could still take it back. What may
   * be done then is only what at-least-once allows to be undone: hand out deliveries and start
   * the next group. Every acknowledgement waits for the promise. A store that commits and syncs
   * in one step (PostgreSQL, the worker thread) never calls it.
   */
  commit(
    ops: readonly QueueOp[],
    now: number,
    policy: QueuePolicy,
    onCommitted?: (result: CommitResult) => void,
  ): Promise<CommitResult>;
  /**
   * The earliest moment something is due: a message TTL, a lock expiry, a feedback batch to make
   * (last batch + batchDelay while records wait), a feedback lock or TTL. null when nothing.
   * Read at start and after each scheduler batch; between those, CommitResult.earliestDeadline.
   */
  nextDeadline(policy: QueuePolicy): Promise<number | null>;
  /** Enqueued + Invisible messages of the device that have not expired by `now`. */
  queueDepth(deviceId: string, now: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// Read-only queries for the console and Ferry's extension endpoints. They never write, lease or
// apply deadlines: what is past its expiry is left out, what is past its lock shows as Enqueued.
// ---------------------------------------------------------------------------------------------

/** A pending message as a peek shows it. */
export interface PendingMessage extends StoredMessage {
  state: 'Enqueued' | 'Invisible';
  /** ms since the epoch; null when Enqueued. */
  lockedUntil: number | null;
}

/** Why a message was dead-lettered (its feedback status). */
export type DeadLetterReason = 'Rejected' | 'Expired' | 'DeliveryCountExceeded' | 'Purged';

/** A kept dead letter (docs/dead-letters.md): the message as it was, why and when it went. */
export interface DeadLetter extends StoredMessage {
  reason: DeadLetterReason;
  /** ms since the epoch */
  deadLetteredTimeUtc: number;
}

/**
 * One step of a message's story (docs/message-history.md). The kinds that end a copy's life in the
 * queue: completed, rejected, expired, purged, deadLettered (DeliveryCountExceeded); `requeued` is
 * a dead letter put back (as a new copy, `requeuedAs`).
 */
export type HistoryEventKind = HistoryStepKind;

export interface HistoryEvent extends HistoryStepFields {
  /** The copy's per-device sequence number (a requeued dead letter is a new copy). */
  sequenceNumber: number;
  kind: HistoryEventKind;
  /** ms since the epoch */
  at: number;
}

export interface DevicePageQuery {
  /** At most this many devices, ordered by device id. */
  limit: number;
  /** Only ids greater than this one (the previous page's last id). */
  afterDeviceId?: string;
  /** Only ids containing this text, case-insensitively (a plain substring, no wildcards). */
  idContains?: string;
}

export interface InspectionStore {
  listDevicePage(query: DevicePageQuery): Promise<DeviceRecord[]>;
  /** The device's pending (not expired) messages by sequence number, at most `limit`. */
  peekMessages(deviceId: string, now: number, limit: number): Promise<PendingMessage[]>;
  /**
   * The device's kept dead letters, oldest first, at most `limit`; those dead-lettered at or
   * before `now - retentionMs` are left out (the scheduler removes them).
   */
  listDeadLetters(deviceId: string, now: number, retentionMs: number, limit: number): Promise<DeadLetter[]>;
  /**
   * Every recorded step of the device's messages with this message id, by copy (sequence number)
   * then in the order they happened; copies that ended at or before `now - retentionMs` are left
   * out (the scheduler removes them).
   */
  messageHistory(deviceId: string, messageId: string, now: number, retentionMs: number): Promise<HistoryEvent[]>;
  /** Hub-wide pending (not expired) messages: Invisible = locked until after `now`. */
  queueTotals(now: number): Promise<{ enqueued: number; invisible: number }>;
  /** Hub-wide feedback records not yet taken: waiting for a batch, or in a feedback message not expired by `now`. */
  pendingFeedbackRecords(now: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// The hub's nodes and its devices' connections, hub-wide (issue 28). Each node writes its own
// heartbeat and the connects and disconnects of its devices (activity at most now and then, never
// per message); any node can then answer for any device, list the nodes, and release what a node
// that stopped heart-beating held. One process (SQLite) keeps the same records.
// ---------------------------------------------------------------------------------------------

/** A hub node as its last heartbeat described it. Times in ms since the epoch. */
export interface NodeRecord {
  nodeId: string;
  /** Where it serves (its first host name and HTTPS port), for operators. */
  address: string;
  /** Device connections it held. */
  connections: number;
  startedAt: number;
  heartbeatAt: number;
  /** Its traffic since it started, as of the heartbeat (absent from a node that wrote none). */
  counters?: NodeCounters;
}

/** A node's traffic since it started: what the console sums over the live nodes. */
export interface NodeCounters {
  c2d: { sent: number; completed: number; abandoned: number; rejected: number };
  telemetry: { messages: number; bytes: number };
}

/** What a node tells of one device's connection: it connected, disconnected, or was active at `at`. */
export interface PresenceWrite {
  deviceId: string;
  nodeId: string;
  kind: 'connect' | 'disconnect' | 'activity';
  at: number;
}

export interface PresenceRecord {
  connectionState: 'Connected' | 'Disconnected';
  /** The node that last connected it. */
  nodeId: string;
  connectionStateUpdatedTime: number;
  lastActivityTime: number | undefined;
}

/** What releaseNodes releases: nodes silent for timeoutMs, or the one named. */
export interface NodeRelease {
  timeoutMs: number;
  /** The hub's C2D lock timeout: a lock older than a device's move is one the old node made. */
  lockTimeoutMs: number;
  nodeId?: string;
}

export interface ClusterStore {
  /** Writes (or refreshes) the node's row. */
  heartbeatNode(node: NodeRecord): Promise<void>;
  /** Every node with a row, by node id. */
  listNodes(): Promise<NodeRecord[]>;
  /**
   * Removes the nodes whose last heartbeat is at or before `now - timeoutMs` (or the one named by
   * `nodeId`, whatever its heartbeat) and marks the devices they held Disconnected at `now`; the
   * C2D locks they held expire at `now` (those of the devices connected there, and those made
   * before a device moved from there to another node); returns the ids removed. Safe to run on
   * every node at once.
   */
  releaseNodes(now: number, release: NodeRelease): Promise<string[]>;
  /**
   * Applies the writes in order. A connect takes the device for its node; a disconnect counts only
   * from the node that holds it (a newer connection elsewhere stays Connected); activity moves
   * lastActivityTime forward only.
   */
  writePresence(writes: readonly PresenceWrite[]): Promise<void>;
  getPresence(deviceId: string): Promise<PresenceRecord | undefined>;
  /** Devices Connected hub-wide. */
  countConnected(): Promise<number>;
}

export interface Store
  extends RegistryStore,
    ClusterStore,
    CaCertificateStore,
    QueueStore,
    InspectionStore,
    TwinStore,
    EventLogStore,
    JobStore {
  /**
   * One trivial round trip on the path commits take (the pool's connection and the server, the
   * worker thread): resolves once the storage answers. Writes nothing; /ready probes an idle node
   * with it (store/commit-watch.ts).
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}
