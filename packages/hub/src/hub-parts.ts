/**
 * What Hub.start() builds (Parts), in the order stop() must take it down (teardown), and the
 * store with the signal bus its nodes share (openStore). Split from hub.ts, the composition root.
 */
import type { Logger } from 'pino';
import { InProcessSignalBus } from './cluster/in-process-signal-bus.js';
import type { NodeHeartbeat } from './cluster/node-heartbeat.js';
import type { PostgresSignalBus } from './cluster/postgres-signal-bus.js';
import type { PresenceBook } from './cluster/presence-book.js';
import type { RegistryReplay } from './cluster/registry-replay.js';
import type { ClusterEvents, SignalBus } from './cluster/signal-bus.js';
import type { HubConfig } from './config/types.js';
import { sqlitePath } from './data-dir.js';
import type { Engine } from './engine/index.js';
import type { StreamGateway } from './gateways/context.js';
import type { RefusalThrottle } from './gateways/refusal-throttle.js';
import type { Jobs } from './jobs/index.js';
import type { HttpGatewayHandler, Listeners, OperationsListener } from './listeners/index.js';
import type { IdleMemoryRelease } from './observability/idle-memory.js';
import type { PostgresStore } from './store/postgres/postgres-store.js';
import { redactUrl } from './store/redact-url.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import { WorkerStore } from './store/sqlite/worker-store.js';
import type { Store } from './store/types.js';
import type { Telemetry } from './telemetry/telemetry.js';

export interface Parts {
  store?: Store;
  /** Refusal lines by device and cause, hub-wide; its last summaries are written at stop. */
  refusals?: RefusalThrottle;
  /** Direct methods (on several nodes, its relay listens and prunes). */
  methods?: { stop(): void };
  /** The LISTEN connection of a PostgreSQL hub. */
  signals?: { close(): Promise<void> };
  /** A PostgreSQL hub's store (unwrapped) and signal bus; undefined on SQLite. */
  postgres?: { store: PostgresStore; bus: PostgresSignalBus };
  replay?: RegistryReplay;
  engine?: Engine;
  telemetry?: Telemetry;
  jobs?: Jobs;
  gateways?: { http: HttpGatewayHandler & { close?(): Promise<void> }; mqtt: StreamGateway; amqp: StreamGateway };
  listeners?: Listeners;
  operations?: OperationsListener;
  /** The in-memory pending counts' background recount (observability/pending-counts.ts). */
  counts?: { stop(): void };
  /** Gives the heap's garbage back when the hub goes quiet (docs/memory.md). */
  idleMemory?: IdleMemoryRelease;
  /** Hub-wide presence and this node's heartbeat (issue 28). */
  presence?: PresenceBook;
  heartbeat?: NodeHeartbeat;
}

/** Opens the store and the signal bus its nodes share: in-process for SQLite, LISTEN/NOTIFY for PostgreSQL. */
export async function openStore(
  config: Readonly<HubConfig>,
  logger: Logger,
  parts: Parts,
): Promise<SignalBus & ClusterEvents> {
  if (config.store.kind === 'postgres') {
    // Loaded only for a PostgreSQL hub: the driver and its queries are several MiB of heap that a
    // SQLite hub would carry for nothing (docs/memory.md).
    const [{ PostgresStore }, { PostgresSignalBus }] = await Promise.all([
      import('./store/postgres/postgres-store.js'),
      import('./cluster/postgres-signal-bus.js'),
    ]);
    const { url, schema } = config.store;
    const store = await PostgresStore.open({
      url,
      schema,
      onPoolError: (err) => logger.warn({ err }, 'a pooled PostgreSQL connection failed'),
    });
    parts.store = store;
    const bus = new PostgresSignalBus({
      url,
      channel: store.channel,
      nodeId: store.nodeId,
      pool: store.pool,
      logger: logger.child({ component: 'cluster' }),
    });
    parts.signals = bus;
    parts.postgres = { store, bus };
    await bus.start();
    logger.info({ store: redactUrl(url), schema, node: store.nodeId }, 'PostgreSQL store open');
    return bus;
  }
  const { pageCacheMb } = config.store;
  const options = {
    path: sqlitePath(config),
    synchronous: config.store.synchronous,
    ...(pageCacheMb === undefined ? {} : { pageCacheMb }),
  };
  parts.store = config.store.worker
    ? await WorkerStore.open(options)
    : new SqliteStore({
        ...options,
        onCheckpointError: (err) =>
          logger.error({ err }, 'the WAL checkpoint thread failed; commits checkpoint instead'),
      });
  return new InProcessSignalBus((err) => logger.error({ err }, 'signal listener threw'));
}

/** Takes down whatever was built, last part first. Safe to call on a half-started hub. */
export async function teardown(parts: Parts, logger: Logger): Promise<void> {
  const step = async (what: string, fn: () => Promise<void> | void) => {
    try {
      await fn();
    } catch (err) {
      logger.error({ err }, `error while stopping: ${what}`);
    }
  };
  parts.listeners?.stopAccepting();
  const { gateways } = parts;
  if (gateways) {
    await Promise.all([
      step('MQTT gateway', () => gateways.mqtt.close()),
      step('AMQP gateway', () => gateways.amqp.close()),
      step('HTTPS gateway', () => gateways.http.close?.()),
    ]);
  }
  if (parts.listeners) await step('listeners', () => parts.listeners!.close());
  parts.methods?.stop();
  // The gateways' disconnects reach the store before this node leaves the cluster.
  if (parts.presence) await step('presence', () => parts.presence!.flush());
  if (parts.heartbeat) await step('node heartbeat', () => parts.heartbeat!.stop());
  parts.refusals?.stop();
  if (parts.jobs) await step('jobs', () => parts.jobs!.stop());
  if (parts.engine) await step('engine', () => parts.engine!.stop());
  parts.counts?.stop();
  parts.idleMemory?.stop();
  if (parts.telemetry) await step('telemetry', () => parts.telemetry!.stop());
  if (parts.replay) await step('registry replay', () => parts.replay!.close());
  if (parts.signals) await step('cluster signals', () => parts.signals!.close());
  if (parts.store) await step('store', () => parts.store!.close());
  if (parts.operations) await step('operations endpoint', () => parts.operations!.close());
}
