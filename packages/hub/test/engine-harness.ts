/** Shared set-up for the engine tests: a manual clock, a store, an engine, devices. */
import type { Delivery } from '@ferry/common';
import { ManualClock } from '../src/clock.js';
import type { C2dConfig, FeedbackConfig } from '../src/config/types.js';
import { Engine } from '../src/engine/engine.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { DeviceRecord, Store } from '../src/store/types.js';
import { within } from './deadline.js';
import { openTestStore } from './pg-test-db.js';

/**
 * One wait of a receiver registered with the engine (as an MQTT connection waits), as a promise:
 * the next non-empty lease, or [] after cancel() or when the engine stops. cancel() while a lease
 * is in flight leaves `deliveries` to that lease. It rejects when nothing came in time (deadline.ts).
 */
export function awaitOnce(
  engine: Engine,
  deviceId: string,
  max: number,
): { deliveries: Promise<Delivery[]>; cancel(): void } {
  let cancel: () => void = () => undefined;
  const deliveries = new Promise<Delivery[]>((resolve, reject) => {
    const receiver = engine.openReceiver(deviceId, {
      onDeliveries: (d) => {
        receiver.close();
        resolve(d);
      },
      onError: (err) => {
        receiver.close();
        reject(err);
      },
    });
    cancel = () => {
      const leaseInFlight = receiver.pause();
      receiver.close();
      if (!leaseInFlight) resolve([]);
    };
    receiver.want(max);
  });
  return { deliveries: within(deliveries, `a lease for ${deviceId}`), cancel: () => cancel() };
}

export const C2D_DEFAULTS: C2dConfig = {
  defaultTtlMs: 3_600_000,
  maxTtlMs: 2 * 86_400_000,
  maxDeliveryCount: 10,
  lockTimeoutMs: 60_000,
  maxQueueDepth: 50,
  maxMessageSize: 65_536,
  countLockExpiry: false,
  // Off unless a test keeps them: nothing else here changes (no dead-letter deadlines).
  deadLetterRetentionMs: 0,
  maxDeadLettersPerDevice: 100,
  // Off unless a test records it (engine-history.test.ts), as dead letters.
  historyRetentionMs: 0,
};

export const FEEDBACK_DEFAULTS: FeedbackConfig = {
  batchMaxRecords: 64,
  batchDelayMs: 15_000,
  lockDurationMs: 60_000,
  ttlMs: 3_600_000,
  maxDeliveryCount: 10,
};

export function deviceRecord(deviceId: string, status: 'enabled' | 'disabled' = 'enabled'): DeviceRecord {
  return {
    deviceId,
    generationId: `gen-${deviceId}`,
    etag: 'AAAA',
    status,
    statusReason: null,
    statusUpdatedTime: '2026-01-01T00:00:00.000Z',
    authType: 'sas',
    primaryKey: 'cHJpbWFyeQ==',
    secondaryKey: 'c2Vjb25kYXJ5',
    primaryThumbprint: null,
    secondaryThumbprint: null,
    iotEdge: false,
  };
}

export interface Harness {
  clock: ManualClock;
  store: Store;
  engine: Engine;
  addDevice(id: string, status?: 'enabled' | 'disabled'): Promise<void>;
  /** Moves the clock and waits until every due deadline was handled. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function harness(
  options: { c2d?: Partial<C2dConfig>; feedback?: Partial<FeedbackConfig>; store?: Store; clock?: ManualClock } = {},
): Promise<Harness> {
  const clock = options.clock ?? new ManualClock();
  const store = options.store ?? (await defaultStore());
  const engine = new Engine({
    store,
    clock,
    c2d: { ...C2D_DEFAULTS, ...options.c2d },
    feedback: { ...FEEDBACK_DEFAULTS, ...options.feedback },
  });
  engine.start();
  await engine.idle();
  return {
    clock,
    store,
    engine,
    async addDevice(id, status = 'enabled') {
      await store.insertDevice(deviceRecord(id, status));
    },
    async advance(ms) {
      // What was submitted before the time passes is committed before it (settles may wait a
      // couple of real milliseconds for company; the manual clock must not overtake them).
      await engine.idle();
      clock.advance(ms);
      await engine.idle();
    },
    async close() {
      await engine.stop();
      await store.close();
    },
  };
}

/** SQLite in memory, or a fresh PostgreSQL schema when FERRY_TEST_STORE=postgres (engine-postgres.test.ts). */
export async function defaultStore(): Promise<Store> {
  return process.env.FERRY_TEST_STORE === 'postgres' ? openTestStore() : new SqliteStore({ path: ':memory:' });
}

export function msg(text: string, extra: Record<string, unknown> = {}) {
  return { body: Buffer.from(text), ...extra };
}
