/**
 * What a node does for the hub beside serving its own connections (issue 28): its heartbeat (which
 * also releases the nodes that stopped theirs) and, on PostgreSQL, the replay of the registry
 * changes its LISTEN connection missed. One SQLite process runs the heartbeat too: it lists itself
 * as the hub's only node and releases what a killed run before it left.
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { HubConfig } from '../config/types.js';
import type { PostgresStore } from '../store/postgres/postgres-store.js';
import type { Store } from '../store/types.js';
import { NodeHeartbeat, type NodeHeartbeatOptions } from './node-heartbeat.js';
import { RegistryReplay, type ReplayTarget } from './registry-replay.js';
import type { ClusterEvents } from './signal-bus.js';

export interface NodeDutiesOptions {
  store: Store;
  /** The PostgreSQL store underneath `store`, when the hub runs on one. */
  postgres: PostgresStore | undefined;
  nodeId: string;
  registry: ReplayTarget;
  signals: Pick<ClusterEvents, 'onSignalsMissed'>;
  config: Readonly<Pick<HubConfig, 'cluster' | 'c2d'>>;
  clock: Clock;
  logger: Logger;
  address: NodeHeartbeatOptions['address'];
  connections: NodeHeartbeatOptions['connections'];
  counters: NodeHeartbeatOptions['counters'];
}

export interface NodeDuties {
  heartbeat: NodeHeartbeat;
  replay: RegistryReplay | undefined;
}

/** Writes the first heartbeat, then keeps beating; starts the replay on PostgreSQL. */
export async function startNodeDuties(o: NodeDutiesOptions): Promise<NodeDuties> {
  const heartbeat = new NodeHeartbeat({
    store: o.store,
    nodeId: o.nodeId,
    address: o.address,
    connections: o.connections,
    ...(o.counters ? { counters: o.counters } : {}),
    clock: o.clock,
    timeoutMs: o.config.cluster.nodeTimeoutMs,
    lockTimeoutMs: o.config.c2d.lockTimeoutMs,
    logger: o.logger,
  });
  await heartbeat.start();
  if (!o.postgres) return { heartbeat, replay: undefined };
  // Imported here: a SQLite hub never loads the PostgreSQL modules.
  const { RegistryChangeQueries } = await import('../store/postgres/registry-change-queries.js');
  const replay = new RegistryReplay({
    log: new RegistryChangeQueries(o.postgres.pool),
    registry: o.registry,
    signals: o.signals,
    logger: o.logger,
  });
  await replay.start();
  return { heartbeat, replay };
}
