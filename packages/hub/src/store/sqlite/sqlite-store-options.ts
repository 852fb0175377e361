/**
 * The options of a SqliteStore, their defaults, and the checks a store makes of them before it
 * opens anything (a misspelled or ill-typed option is named, not ignored).
 */

export interface SqliteStoreOptions {
  /** A file path, or ':memory:' for tests. */
  path: string;
  /**
   * FULL (default): every write is on disk before it is answered (SQLite runs with NORMAL and the
   * WAL is synced in libuv's thread pool before the answer, wal-sync.ts). NORMAL: answered once
   * written; a power cut may lose the last ones (a crash of the hub alone loses nothing).
   */
  synchronous?: 'FULL' | 'NORMAL';
  /**
   * WAL checkpoints in a thread of their own (checkpointer.ts; default true for a file). False for
   * a short-lived store (a CLI command reading a policy).
   */
  checkpointThread?: boolean;
  /** Told when the checkpoint thread fails (the store then carries on checkpointing by itself). */
  onCheckpointError?: (err: Error) => void;
  /** The connection's page cache, at most, in MiB (default PAGE_CACHE_MB). */
  pageCacheMb?: number;
}

const OPTION_KEYS = new Set(['path', 'synchronous', 'checkpointThread', 'onCheckpointError', 'pageCacheMb']);

/**
 * SQLite's page cache of the hub's connection, at most (`store.pageCacheMb`). better-sqlite3
 * builds SQLite with a default of 16 MiB per connection (SQLite's own is 2 MiB): memory the cache
 * keeps once it has filled, as it does with large messages (the fault campaign's 60 KB ones: 15 MiB
 * of the hub's RSS after the load, docs/memory.md). The hot path's pages (the devices, the tail of
 * the queue and its indexes, the history batch) fit in far less: in the peer fan-out the hub read
 * 0.24 pages per message from the file with 16 MiB, 0.25 with 4 and 0.39 with 2 (pread64, perf stat).
 */
export const PAGE_CACHE_MB = 4;

/** The options as the store uses them, defaults filled in; throws a TypeError naming a bad one. */
export function checkedOptions(options: SqliteStoreOptions): { synchronous: 'FULL' | 'NORMAL'; pageCacheMb: number } {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key))
      throw new TypeError(`SqliteStore: unknown option "${key}" (expected ${[...OPTION_KEYS].join(', ')})`);
  }
  if (typeof options.path !== 'string' || options.path === '') {
    throw new TypeError('SqliteStore: option "path" must be a non-empty string (a file path or ":memory:")');
  }
  const synchronous = options.synchronous ?? 'FULL';
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') {
    throw new TypeError(`SqliteStore: option "synchronous" must be 'FULL' or 'NORMAL', got ${String(synchronous)}`);
  }
  const pageCacheMb = options.pageCacheMb ?? PAGE_CACHE_MB;
  if (!Number.isInteger(pageCacheMb) || pageCacheMb < 1) {
    throw new TypeError(
      `SqliteStore: option "pageCacheMb" must be a whole number of MiB >= 1, got ${String(pageCacheMb)}`,
    );
  }
  return { synchronous, pageCacheMb };
}
