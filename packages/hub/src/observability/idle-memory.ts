/**
 * Gives the heap's garbage back once a burst of load is over (issue 29, docs/memory.md).
 *
 * V8 collects its old generation when an allocation needs the room, never because the process
 * went quiet: after a fan-out the hub kept ~20-25 MiB of dead objects, and the pages holding them,
 * for as long as no new load came (Node does not run V8's idle-time collection, and its memory
 * reducer had stopped with the load). Here a timer looks every `intervalMs` at the process's CPU
 * over the interval: when it was idle (under `idleCpuShare` of one core) and the old generation
 * holds `minGarbageBytes` more than it did after the last full collection, it runs one; V8 then
 * releases the pages it emptied and, the allocation rate being low, shrinks its young generation
 * back. A busy hub is left alone (its own collections keep up), and an idle hub that allocates
 * nothing is never collected twice for nothing. Only the old generation counts: what dies young
 * (an idle hub's keep-alive traffic) is swept by V8's cheap scavenges, and a full collection of
 * a large heap (many connections) costs a pause worth paying only for what they leave behind.
 * The first idle look after start collects whatever the old generation holds: loading the
 * modules grows V8's young generation to 2 x 8 MiB, and only a collection at a low allocation rate
 * shrinks it back (an idle hub: RSS 80 -> 73 MiB).
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from 'pino';

export interface IdleMemoryOptions {
  logger: Logger;
  /** How often the process's CPU and heap are looked at (ms). */
  intervalMs?: number;
  /** CPU time over the interval, as a share of one core, below which the process counts as idle. */
  idleCpuShare?: number;
  /**
   * Old-generation growth since the last full collection that makes one worth its pause (bytes);
   * a quarter of the old generation when that is more.
   */
  minGarbageBytes?: number;
  /** For tests: the collection to run (default: V8's full collection) and the readings. */
  collect?: () => void;
  cpuMicros?: () => number;
  oldUsed?: () => number;
}

export const IDLE_MEMORY_DEFAULTS = { intervalMs: 10_000, idleCpuShare: 0.05, minGarbageBytes: 8 * 2 ** 20 };

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

/** Bytes in use in V8's old generation (old space and large objects), live or not yet collected. */
function oldGenerationUsed(): number {
  let used = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name === 'old_space' || s.space_name === 'large_object_space') used += s.space_used_size;
  }
  return used;
}

function processCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

export class IdleMemoryRelease {
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly collect: (() => void) | undefined;
  private readonly cpuMicros: () => number;
  private readonly oldUsed: () => number;
  private readonly intervalMs: number;
  private readonly idleCpuShare: number;
  private readonly minGarbageBytes: number;
  private lastCpu: number;
  private lastAt: number;
  /** Old generation in use right after the last full collection (or at start). */
  private settledOld: number;
  /** False until the first collection after start (see above). */
  private startedUp = false;
  /** Full collections run so far (for tests and the log). */
  collections = 0;

  constructor(private readonly opts: IdleMemoryOptions) {
    this.intervalMs = opts.intervalMs ?? IDLE_MEMORY_DEFAULTS.intervalMs;
    this.idleCpuShare = opts.idleCpuShare ?? IDLE_MEMORY_DEFAULTS.idleCpuShare;
    this.minGarbageBytes = opts.minGarbageBytes ?? IDLE_MEMORY_DEFAULTS.minGarbageBytes;
    this.cpuMicros = opts.cpuMicros ?? processCpuMicros;
    this.oldUsed = opts.oldUsed ?? oldGenerationUsed;
    this.collect = opts.collect ?? fullCollection();
    this.lastCpu = this.cpuMicros();
    this.lastAt = performance.now();
    this.settledOld = this.oldUsed();
    if (!this.collect) {
      opts.logger.debug('no full garbage collection available; the heap is not given back when idle');
      return;
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
    const used = this.oldUsed();
    // The old generation shrank by itself (V8 collected it): that is the new floor.
    if (used < this.settledOld) this.settledOld = used;
    if (share >= this.idleCpuShare || !this.collect) return;
    // On a large heap (many connections) a quarter of it, so the pauses stay rare where they are long.
    const worthIt = Math.max(this.minGarbageBytes, this.settledOld / 4);
    if (this.startedUp && used - this.settledOld < worthIt) return;
    this.startedUp = true;
    const started = performance.now();
    this.collect();
    this.collections++;
    const after = this.oldUsed();
    this.opts.logger.debug(
      { oldBeforeMiB: mib(used), oldAfterMiB: mib(after), pauseMs: Math.round(performance.now() - started) },
      'idle: heap garbage collected',
    );
    this.settledOld = after;
    // The collection's own CPU is not the next interval's load.
    this.lastCpu = this.cpuMicros();
    this.lastAt = performance.now();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
