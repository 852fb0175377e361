/**
 * This node's heartbeat (issue 28): every cluster.nodeTimeoutMs / 3 it writes its row (address,
 * connections, time, traffic counters) and releases the nodes that have not written theirs for cluster.nodeTimeoutMs:
 * their rows go and the devices they held are marked Disconnected (ClusterStore.releaseNodes, once
 * whichever nodes run it), and reads how many devices are connected hub-wide. On stop it releases itself, so `ferry hub nodes` no longer lists it.
 */
import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import type { ClusterStore, NodeCounters } from '../store/types.js';

export interface NodeHeartbeatOptions {
  store: Pick<ClusterStore, 'heartbeatNode' | 'releaseNodes' | 'countConnected'>;
  nodeId: string;
  /** Where it serves (its first host name and HTTPS port, once bound), for operators. */
  address: () => string;
  /** Device connections this node holds now. */
  connections: () => number;
  /** Its traffic since it started, published with each heartbeat (no write per message). */
  counters?: () => Promise<NodeCounters>;
  clock: Clock;
  timeoutMs: number;
  /** c2d.lockTimeoutMs: which of a moved device's locks a released node made (ClusterStore.releaseNodes). */
  lockTimeoutMs: number;
  logger: Logger;
}

export class NodeHeartbeat {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private beating: Promise<void> | undefined;
  private readonly startedAt: number;
  /** Devices connected hub-wide as the last heartbeat read them (the metrics' gauge: a scrape reads no store). */
  hubConnected = 0;

  constructor(private readonly opts: NodeHeartbeatOptions) {
    this.startedAt = opts.clock.now();
  }

  /** Writes the first heartbeat, then keeps beating. */
  async start(): Promise<void> {
    await this.beat();
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.opts.clock.setTimer(
      () => {
        void this.beat().then(() => this.arm());
      },
      Math.max(100, Math.floor(this.opts.timeoutMs / 3)),
    );
  }

  /** One heartbeat and one release of dead nodes; failures are logged (the next beat tries again). */
  beat(): Promise<void> {
    this.beating ??= this.run().finally(() => {
      this.beating = undefined;
    });
    return this.beating;
  }

  private async run(): Promise<void> {
    const { store, nodeId, clock, timeoutMs, logger } = this.opts;
    try {
      const now = clock.now();
      await store.heartbeatNode({
        nodeId,
        address: this.opts.address(),
        connections: this.opts.connections(),
        startedAt: this.startedAt,
        heartbeatAt: now,
        ...(this.opts.counters ? { counters: await this.opts.counters() } : {}),
      });
      const released = await store.releaseNodes(now, { timeoutMs, lockTimeoutMs: this.opts.lockTimeoutMs });
      for (const id of released)
        logger.warn({ node: id, timeoutMs }, 'a node stopped heart-beating: its devices are released');
      this.hubConnected = await store.countConnected();
    } catch (err) {
      logger.warn({ err }, 'the node heartbeat failed');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.beating;
    const { timeoutMs, lockTimeoutMs, nodeId } = this.opts;
    await this.opts.store.releaseNodes(this.opts.clock.now(), { timeoutMs, lockTimeoutMs, nodeId }).catch((err) => {
      this.opts.logger.warn({ err }, 'releasing this node on stop failed');
    });
  }
}
