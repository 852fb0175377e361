/**
 * What the hub does when its storage fails (disk full, I/O error, database unreachable): every
 * request that needed it is answered ServerBusy (HTTP 503, AMQP com.microsoft:server-busy) with a
 * message saying so, nothing is acknowledged (the store committed nothing), one error line is
 * logged when the failure starts (not one per request), `ferry_storage_healthy` drops to 0 and
 * /ready answers 503 until a store call that had failed succeeds again: the hub recovers by itself
 * once space is freed.
 */
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';

/** SQLite result codes (and extended ones, e.g. SQLITE_IOERR_WRITE) that mean the storage failed. */
const SQLITE_FAULTS = [
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
];
/** File system and network errors of the same kind (a store in a worker, PostgreSQL). */
const SYSTEM_FAULTS = new Set(['ENOSPC', 'EIO', 'EROFS', 'EDQUOT', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT']);
/** Repeated failures while failing are logged at most this often. */
const RELOG_MS = 60_000;

/** The storage fault code of an error, or undefined when it is not a storage fault. */
export function storageFault(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (SQLITE_FAULTS.some((f) => code === f || code.startsWith(`${f}_`))) return code;
  if (SYSTEM_FAULTS.has(code)) return code;
  // PostgreSQL SQLSTATE class 53 (insufficient resources: disk full) and 58 (system error: I/O).
  if (/^5[38][0-9A-Z]{3}$/.test(code)) return code;
  return undefined;
}

export class StorageHealth {
  private readonly failing = new Set<string>();
  private lastLogged = 0;
  private unlogged = 0;
  private readonly healthyGauge: Gauge;
  private readonly failures: Counter<'code'>;

  constructor(
    private readonly logger: Logger,
    registry: Registry,
    private readonly now: () => number = Date.now,
  ) {
    this.healthyGauge = new Gauge({
      name: 'ferry_storage_healthy',
      help: '1 while the store answers, 0 while it fails (disk full, I/O errors); /ready is 503 meanwhile.',
      registers: [registry],
    });
    this.healthyGauge.set(1);
    this.failures = new Counter({
      name: 'ferry_storage_failures_total',
      help: 'Store calls that failed with a storage fault, by code (SQLITE_FULL, SQLITE_IOERR_WRITE, ...).',
      labelNames: ['code'],
      registers: [registry],
    });
  }

  get healthy(): boolean {
    return this.failing.size === 0;
  }

  /** A store call (`operation`) failed with storage fault `code`: the error to answer with. */
  fault(operation: string, code: string, cause: unknown): FerryError {
    const wasHealthy = this.healthy;
    this.failing.add(operation);
    this.failures.inc({ code });
    this.healthyGauge.set(0);
    const t = this.now();
    if (wasHealthy || t - this.lastLogged >= RELOG_MS) {
      this.logger.error(
        { err: cause, code, operation, since: this.unlogged || undefined },
        'storage is full or failing: requests are answered ServerBusy until it recovers',
      );
      this.lastLogged = t;
      this.unlogged = 0;
    } else {
      this.unlogged++;
    }
    return new FerryError(
      'ServerBusy',
      `The hub's storage is full or failing (${code}); the request was not stored. Retry later.`,
      { cause },
    );
  }

  /** A store call succeeded: if it is one that had failed, that part of the storage works again. */
  succeeded(operation: string): void {
    if (!this.failing.delete(operation) || !this.healthy) return;
    this.healthyGauge.set(1);
    this.logger.info({ operation }, 'storage recovered: requests are served again');
  }
}

/**
 * The store seen through the health check: every method's storage faults become ServerBusy
 * (FerryError) and are recorded; everything else passes through unchanged. Store-agnostic, so
 * it wraps SQLite, a store in a worker thread or PostgreSQL alike.
 */
export function guardStore<T extends object>(store: T, health: StorageHealth): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(prop);
      if (!fn) {
        const name = String(prop);
        const fail = (err: unknown): never => {
          const code = storageFault(err);
          throw code ? health.fault(name, code, err) : err;
        };
        fn = (...args: unknown[]) => {
          let result: unknown;
          try {
            // The store itself as `this`: class private fields do not work through a proxy.
            result = (value as (...a: unknown[]) => unknown).apply(target, args);
          } catch (err) {
            return fail(err);
          }
          const done = (v: unknown) => {
            if (!markFailedOps(v, name, health)) health.succeeded(name);
            return v;
          };
          return result instanceof Promise ? result.then(done, fail) : done(result);
        };
        wrapped.set(prop, fn);
      }
      return fn;
    },
  });
}

/**
 * A commit applies each op on its own: an op that hit a storage fault comes back as a failed
 * result with the fault as its cause (store/types.ts FailedResult). Its cause becomes the
 * ServerBusy error. True when there was one.
 */
function markFailedOps(value: unknown, operation: string, health: StorageHealth): boolean {
  const results = (value as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return false;
  let faulted = false;
  for (const r of results as Array<{ ok?: boolean; error?: string; cause?: unknown }>) {
    if (r?.ok !== false || r.error !== 'ServerError') continue;
    const code = storageFault(r.cause);
    if (!code) continue;
    r.cause = health.fault(operation, code, r.cause);
    faulted = true;
  }
  return faulted;
}
