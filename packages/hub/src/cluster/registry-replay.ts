/**
 * Registry changes are never lost to a node whose LISTEN connection was down: once it is back
 * (onSignalsMissed), the node reads from the store's change sequence which devices were written or
 * deleted since the cursor it took when it last started listening, and re-reads each, so its
 * gateways cut what the registry no longer allows (disabled, deleted, key regenerated). A reading
 * that fails is tried again until it succeeds; the cursor moves only then.
 *
 * The new cursor is taken before the changes are read, and after the LISTEN is back in place: a
 * change committed after it is either heard on LISTEN or read at the next replay. A LISTEN
 * connection that stayed down longer than the sequence keeps its rows (they are pruned after
 * retentionMs) makes the node re-read every device connected to it as well.
 */
import type { Logger } from 'pino';
import type { ChangeCursor, RegistryChangeLog } from '../store/postgres/registry-change-queries.js';
import type { ClusterEvents } from './signal-bus.js';

export interface ReplayTarget {
  /** Re-reads the device and tells this node's listeners, as for a change heard from another node. */
  changedElsewhere(deviceId: string): Promise<void>;
  /** The devices connected to this node. */
  connectedDevices(): string[];
}

export interface RegistryReplayOptions {
  log: RegistryChangeLog;
  registry: ReplayTarget;
  signals: Pick<ClusterEvents, 'onSignalsMissed'>;
  logger: Logger;
  /** How long change rows are kept (ms; default one hour). */
  retentionMs?: number;
  /** How often old rows are pruned (ms; default five minutes). */
  pruneEveryMs?: number;
  /** Delay before a failed replay is tried again (ms). */
  retryMs?: number;
}

export class RegistryReplay {
  private cursor: ChangeCursor | undefined;
  private cursorAt = 0;
  private running: Promise<void> = Promise.resolve();
  private pending = false;
  private closed = false;
  private pruneTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly retentionMs: number;

  constructor(private readonly options: RegistryReplayOptions) {
    this.retentionMs = options.retentionMs ?? 3_600_000;
  }

  /** Takes the first cursor (the signal bus must be listening already) and watches for missed signals. */
  async start(): Promise<void> {
    this.cursor = await this.options.log.cursor();
    this.cursorAt = Date.now();
    this.unsubscribe = this.options.signals.onSignalsMissed(() => this.schedule());
    this.pruneTimer = setInterval(() => void this.prune(), this.options.pruneEveryMs ?? 300_000).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    clearInterval(this.pruneTimer);
    clearTimeout(this.retryTimer);
    await this.running;
  }

  /** Resolves once the replays asked for so far have run (tests). */
  settled(): Promise<void> {
    return this.running;
  }

  private schedule(): void {
    if (this.closed || this.pending) return;
    this.pending = true;
    this.running = this.running.then(() => {
      this.pending = false;
      return this.replay();
    });
  }

  private async replay(): Promise<void> {
    if (this.closed || this.cursor === undefined) return;
    const { log, registry, logger } = this.options;
    try {
      const next = await log.cursor();
      const nextAt = Date.now();
      const changed = new Set(await log.changesSince(this.cursor));
      // Rows older than the retention may be gone: whatever is connected here is checked too.
      if (nextAt - this.cursorAt > this.retentionMs / 2) for (const id of registry.connectedDevices()) changed.add(id);
      for (const id of changed) await registry.changedElsewhere(id);
      this.cursor = next;
      this.cursorAt = nextAt;
      if (changed.size > 0)
        logger.info({ devices: changed.size }, 'registry changes missed while not listening re-read');
    } catch (err) {
      logger.warn({ err }, 'could not read the registry changes missed while not listening; trying again');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.schedule(), this.options.retryMs ?? 1000).unref();
    }
  }

  private async prune(): Promise<void> {
    try {
      await this.options.log.prune(this.retentionMs);
    } catch (err) {
      this.options.logger.warn({ err }, 'could not prune the registry change sequence');
    }
  }
}
