/**
 * Gives the heap's memory back once a burst of load is over (issue 29, docs/memory.md).
 *
 * V8 collects when an allocation needs the room, never because the process went quiet, and it
 * keeps what its heap grew to under load: after a fan-out the hub sat on a 66-72 MiB heap (a young
 * generation grown to 2 x 16 MiB, an old one holding ~20-25 MiB of dead objects) for as long as no
 * new load came (Node runs no idle-time collection, and V8's memory reducer had stopped with the
 * load). Here a timer looks every `intervalMs` at the process's CPU over the interval: when it was
 * idle (under `idleCpuShare` of one core) and V8's heap has grown by `minGrowthBytes` (or a quarter,
 * when that is more) since the last full collection, or the process worked since then and the heap
 * stands that much above the smallest size it ever settled at, it runs one; V8 then releases the
 * pages it emptied and, the allocation rate being low, shrinks its young generation back. It is the heap's
 * size, not its garbage, that is watched: that is what the RSS holds, and it does not grow with
 * what dies young (an idle hub's keep-alive traffic), so an idle hub is not collected over and
 * over, and a large heap (many connections) pays its long pauses rarely. A busy hub is left alone.
 * The first idle look after start collects once whatever the heap: loading the modules grows the
 * young generation to 2 x 8 MiB (an idle hub: RSS 80 -> 73 MiB).
 *
 * glibc keeps what the process frees outside V8's heap (OpenSSL's per-connection state and record
 * buffers, Node's native objects) in its own heaps, and gives back by itself only their top. With
 * the native-memory addon (glibc's malloc_trim), each collection is followed by a trim: the
 * collection frees the native side of the objects it swept, the trim hands their pages back. A
 * burst can also end with V8 having collected by itself, the heap then not grown, while glibc holds
 * the freed native memory: an idle look then trims alone when glibc holds `minNativeFreeBytes` free
 * and the process has worked since the last trim. Pages a trim gave back stay counted in glibc's
 * free figure, so that figure alone would trim every idle look.
 */

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from 'pino';
import type { NativeHeap } from './native-heap.js';

export interface IdleMemoryOptions {
  logger: Logger;
  /** How often the process's CPU and heap are looked at (ms). */
  intervalMs?: number;
  /** CPU time over the interval, as a share of one core, below which the process counts as idle. */
  idleCpuShare?: number;
  /**
   * Heap growth since the last full collection that makes one worth its pause (bytes); a quarter
   * of the heap when that is more.
   */
  minGrowthBytes?: number;
  /** glibc's malloc_trim and free figure (the native-memory addon); none: nothing is trimmed. */
  native?: NativeHeap;
  /**
   * Empties caches whose memory can go back with the trim (SQLite's page cache): run right before
   * each trim, after a collection or alone. A failure is logged, never thrown.
   */
  releaseCaches?: () => void;
  /** Free memory glibc holds (bytes) that makes a trim worth it when the heap did not grow. */
  minNativeFreeBytes?: number;
  /** For tests: the collection to run (default: V8's full collection) and the readings. */
  collect?: () => void;
  cpuMicros?: () => number;
  heapSize?: () => number;
  rss?: () => number;
}

export const IDLE_MEMORY_DEFAULTS = {
  intervalMs: 10_000,
  idleCpuShare: 0.05,
  minGrowthBytes: 8 * 2 ** 20,
  minNativeFreeBytes: 8 * 2 ** 20,
};

/**
 * V8's full collection. Node offers it only behind --expose-gc, which must not be asked of every
 * way the hub is started (ferry, npm start, a service unit): the flag is turned on just long enough
 * for a new context to hand out its `gc` function, then off again. Undefined if that is refused.
 */
function fullCollection(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** The size of V8's heap (its spaces' committed memory, live or not). */
function heapSize(): number {
  return getHeapStatistics().total_heap_size;
}

function processCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

export class IdleMemoryRelease {
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly collect: (() => void) | undefined;
  private readonly native: NativeHeap | undefined;
  private readonly cpuMicros: () => number;
  private readonly heapSize: () => number;
  private readonly rss: () => number;
  private readonly intervalMs: number;
  private readonly idleCpuShare: number;
  private readonly minGrowthBytes: number;
  private readonly minNativeFreeBytes: number;
  private lastCpu: number;
  private lastAt: number;
  /** The heap's size right after the last full collection (or at start). */
  private settledSize: number;
  /** The smallest size the heap has had after a full collection (or by itself): what it needs with no load. */
  private floorSize: number;
  /** Whether the process was busy since the last full collection. */
  private workedSinceCollection = false;
  /** False until the first collection after start (see above). */
  private startedUp = false;
  /** Whether the process was busy since the last trim (loading the modules counts). */
  private workedSinceTrim = true;
  /** Full collections run so far (for tests and the log). */
  collections = 0;
  /** malloc_trim calls so far (for tests). */
  trims = 0;

  constructor(private readonly opts: IdleMemoryOptions) {
    this.intervalMs = opts.intervalMs ?? IDLE_MEMORY_DEFAULTS.intervalMs;
    this.idleCpuShare = opts.idleCpuShare ?? IDLE_MEMORY_DEFAULTS.idleCpuShare;
    this.minGrowthBytes = opts.minGrowthBytes ?? IDLE_MEMORY_DEFAULTS.minGrowthBytes;
    this.minNativeFreeBytes = opts.minNativeFreeBytes ?? IDLE_MEMORY_DEFAULTS.minNativeFreeBytes;
    this.cpuMicros = opts.cpuMicros ?? processCpuMicros;
    this.heapSize = opts.heapSize ?? heapSize;
    this.rss = opts.rss ?? process.memoryUsage.rss;
    this.native = opts.native;
    this.collect = opts.collect ?? fullCollection();
    this.lastCpu = this.cpuMicros();
    this.lastAt = performance.now();
    this.settledSize = this.heapSize();
    this.floorSize = this.settledSize;
    if (!this.collect) {
      opts.logger.debug('no full garbage collection available; the heap is not given back when idle');
      if (!this.native) return;
    }
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** One look (the timer's; public for tests). */
  check(): void {
    const now = performance.now();
    const cpu = this.cpuMicros();
    const share = (cpu - this.lastCpu) / 1000 / Math.max(1, now - this.lastAt);
    this.lastCpu = cpu;
    this.lastAt = now;
    const size = this.heapSize();
    // The heap shrank by itself (V8 collected and released): that is the new floor.
    if (size < this.settledSize) this.settledSize = size;
    if (size < this.floorSize) this.floorSize = size;
    if (share >= this.idleCpuShare) {
      this.workedSinceTrim = true;
      this.workedSinceCollection = true;
      return;
    }
    if (this.collect && (!this.startedUp || this.grown(size))) {
      this.collectAndTrim(this.collect, size);
    } else if (this.native && this.workedSinceTrim) {
      this.trimIfWorthIt(this.native);
    } else {
      return;
    }
    // The release's own CPU is not the next interval's load.
    this.lastCpu = this.cpuMicros();
    this.lastAt = performance.now();
  }

  /**
   * Whether a collection is worth its pause: the heap grew since the last one; or, after work, it
   * stands above its floor. The second is for a collection that ran with much alive (a pause in
   * the middle of a long load, thousands of connections open): the heap then settled high, and
   * by the end of the load its garbage may be most of it without the heap having grown since.
   * Once per stretch of work, so a hub whose live heap stays large is not collected over and over.
   * Growth counts on a large heap (many connections) from a quarter of it, so its long pauses stay rare.
   */
  private grown(size: number): boolean {
    const worthIt = (from: number) => size - from >= Math.max(this.minGrowthBytes, from / 4);
    return worthIt(this.settledSize) || (this.workedSinceCollection && worthIt(this.floorSize));
  }

  private collectAndTrim(collect: () => void, size: number): void {
    this.startedUp = true;
    this.workedSinceCollection = false;
    const rssBefore = this.rss();
    const started = performance.now();
    collect();
    this.collections++;
    const collected = performance.now();
    const after = this.heapSize();
    // The collection freed the native side of what it swept; now its pages can go back.
    const trimmed = this.trim();
    this.opts.logger.debug(
      {
        heapBeforeMiB: mib(size),
        heapAfterMiB: mib(after),
        pauseMs: Math.round(collected - started),
        ...(trimmed === undefined ? {} : { trimmed, trimMs: round1(performance.now() - collected) }),
        rssBeforeMiB: mib(rssBefore),
        rssAfterMiB: mib(this.rss()),
      },
      'idle: heap collected and given back',
    );
    this.settledSize = after;
    if (after < this.floorSize) this.floorSize = after;
  }

  /** The heap did not grow, but glibc may hold what the last burst freed. */
  private trimIfWorthIt(native: Pick<NativeHeap, 'info'>): void {
    const free = native.info().fordblks;
    if (free < this.minNativeFreeBytes) return;
    const rssBefore = this.rss();
    const started = performance.now();
    const trimmed = this.trim();
    this.opts.logger.debug(
      {
        nativeFreeMiB: mib(free),
        trimmed,
        trimMs: round1(performance.now() - started),
        rssBeforeMiB: mib(rssBefore),
        rssAfterMiB: mib(this.rss()),
      },
      'idle: native memory given back',
    );
  }

  /** The caches emptied, then malloc_trim, if the addon is there: whether glibc gave back any pages. */
  private trim(): boolean | undefined {
    if (!this.native) return undefined;
    this.trims++;
    this.workedSinceTrim = false;
    // What the caches free goes back with this trim.
    try {
      this.opts.releaseCaches?.();
    } catch (err) {
      this.opts.logger.warn({ err }, 'idle: emptying the caches failed; they keep their memory');
    }
    return this.native.trim();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const round1 = (ms: number) => Math.round(ms * 10) / 10;
