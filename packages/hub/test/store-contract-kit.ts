/** What the store contract suites share: fixed time, a small policy, record builders, and the per-test kit. */
import type { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { type SyncFile, WalSync } from '../src/store/sqlite/wal-sync.js';
import type { DeviceRecord, NewMessage, QueueOp, QueueOpResults, QueuePolicy, Store } from '../src/store/types.js';

export const T0 = Date.UTC(2026, 0, 1);

export const POLICY: QueuePolicy = {
  maxQueueDepth: 5,
  maxDeliveryCount: 3,
  countLockExpiry: false,
  lockTimeoutMs: 60_000,
  // Dead letters dropped, as IoT Hub does; store-contract-dead-letters.ts keeps them.
  deadLetters: { retentionMs: 0, maxPerDevice: 100 },
  // No history recorded; store-contract-history.ts records it.
  history: { retentionMs: 0 },
  feedback: { batchMaxRecords: 4, batchDelayMs: 15_000, lockDurationMs: 60_000, ttlMs: 3_600_000, maxDeliveryCount: 3 },
};

export function device(deviceId: string, status: 'enabled' | 'disabled' = 'enabled', etag = 'e1'): DeviceRecord {
  return {
    deviceId,
    generationId: `g-${deviceId}`,
    etag,
    status,
    statusReason: null,
    statusUpdatedTime: new Date(T0).toISOString(),
    authType: 'sas',
    primaryKey: 'cA==',
    secondaryKey: 'cw==',
    primaryThumbprint: null,
    secondaryThumbprint: null,
    iotEdge: false,
  };
}

export function message(deviceId: string, text: string, extra: Partial<NewMessage> = {}): NewMessage {
  return { deviceId, ack: 'none', expiryTimeUtc: T0 + 3_600_000, properties: {}, body: Buffer.from(text), ...extra };
}

/** The store of the running test and helpers over it, handed to each part of the contract. */
export interface ContractKit {
  readonly store: Store;
  /** Commits one op and returns its result, typed by kind; a ServerError result is thrown. */
  one<K extends QueueOp['kind']>(
    op: QueueOp & { kind: K },
    now?: number,
    policy?: QueuePolicy,
  ): Promise<QueueOpResults[K]>;
  feedbackBatch(now: number): Promise<QueueOpResults['leaseFeedback']['batch']>;
}

/** A SQLite store (file at `path`) whose WAL syncs go through `syncFile`: a test holds or fails them. */
export async function syncWalThrough(store: SqliteStore, path: string, syncFile: SyncFile): Promise<void> {
  const inner = store as unknown as { walSync: WalSync };
  await inner.walSync.close();
  inner.walSync = new WalSync(`${path}-wal`, syncFile);
}
