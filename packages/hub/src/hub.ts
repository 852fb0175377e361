/**
 * The composition root. Hub.start() builds the hub from a parsed configuration: TLS material,
 * store, engine, registry, authenticator, gateways, listeners; stop() takes it down in the
 * reverse order so that nothing acknowledged is lost:
 *   stop accepting -> close gateways (leased messages released) -> engine.stop (last group
 *   commit flushed) -> store.close.
 * The operations endpoint (/metrics, /health, /ready) is bound first and closed last: /ready
 * turns 503 the moment stop() begins, while /metrics still answers during the drain.
 */
import { hostname } from 'node:os';
import { FerryError, formatHubConnectionString } from '@ferry/common';
import type { Logger } from 'pino';
import { SasAuthenticator } from './auth/authenticator.js';
import { CaTrust } from './auth/ca-trust.js';
import { hubNameOf } from './auth/hub-name.js';
import { X509Authenticator } from './auth/x509.js';
import { type Clock, systemClock } from './clock.js';
import { startNodeDuties } from './cluster/node-duties.js';
import { PresenceBook } from './cluster/presence-book.js';
import type { HubConfig } from './config/types.js';
import { createInspector } from './console/inspector.js';
import { type ConsoleFiles, consoleFiles, findConsoleDist } from './console/static-files.js';
import { ensureDataDir, readHubInfo, writeHubInfo } from './data-dir.js';
import { Engine } from './engine/index.js';
import { createAmqpGateway } from './gateways/amqp/index.js';
import type { GatewayContext } from './gateways/context.js';
import { createHttpGateway } from './gateways/http/gateway.js';
import { createMqttGateway } from './gateways/mqtt/index.js';
import { RefusalThrottle } from './gateways/refusal-throttle.js';
import { openStore, type Parts, teardown } from './hub-parts.js';
import { Jobs } from './jobs/index.js';
import {
  type BindTarget,
  checkPortsFree,
  Listeners,
  OperationsListener,
  operationsTarget,
  type RunningHubHint,
} from './listeners/index.js';
import { Methods } from './methods/index.js';
import { IdleMemoryRelease } from './observability/idle-memory.js';
import { createLogger } from './observability/logger.js';
import { meteredEngine } from './observability/metered-engine.js';
import { HubMetrics } from './observability/metrics.js';
import { loadNativeHeap } from './observability/native-heap.js';
import { operationsHandler } from './observability/operations.js';
import { CaCertificates } from './registry/ca-certificates.js';
import { DeviceRegistry } from './registry/registry.js';
import { CommitWatch, watchCommits } from './store/commit-watch.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import { guardStore, StorageHealth } from './store/storage-health.js';
import { Telemetry } from './telemetry/telemetry.js';
import { ensureTlsMaterial } from './tls/material.js';
import { Twins } from './twins/index.js';

export interface HubStartOptions {
  logger?: Logger;
  clock?: Clock;
}

/** How often a node re-reads the earliest deadline when others may have set it (several nodes). */
const CLUSTER_DEADLINE_POLL_MS = 5000;

/** The console's files when console.enabled; a hub without a built console still starts (and says so). */
function consoleFilesFor(config: Readonly<HubConfig>, logger: Logger): ConsoleFiles | undefined {
  if (!config.console.enabled) return undefined;
  const files = consoleFiles(findConsoleDist());
  if (!files.dir) logger.warn('the web console is not built (npm run build); /console/ answers 503');
  return files;
}

export class Hub {
  readonly config: Readonly<HubConfig>;
  readonly logger: Logger;
  readonly metrics: HubMetrics;
  readonly registry: DeviceRegistry;
  /** The PEM file clients should trust; undefined for a user certificate given without tls.caFile. */
  readonly caFile: string | undefined;
  /** Ports actually bound (they differ from the configured ones only when those were 0). */
  readonly ports: { readonly https: number; readonly mqtts: number; readonly amqps: number };
  /** Where /metrics, /health and /ready are served; undefined when observability.port is 0. */
  readonly operations: { readonly address: string; readonly port: number } | undefined;
  private readonly parts: Parts;
  private stopping: Promise<void> | undefined;

  private constructor(init: {
    config: Readonly<HubConfig>;
    logger: Logger;
    metrics: HubMetrics;
    registry: DeviceRegistry;
    caFile: string | undefined;
    parts: Parts;
  }) {
    this.config = init.config;
    this.logger = init.logger;
    this.metrics = init.metrics;
    this.registry = init.registry;
    this.caFile = init.caFile;
    this.parts = init.parts;
    this.ports = Object.freeze({ ...init.parts.listeners!.ports });
    const ops = init.parts.operations;
    this.operations = ops ? Object.freeze({ address: ops.address, port: ops.port }) : undefined;
  }

  static async start(config: Readonly<HubConfig>, opts: HubStartOptions = {}): Promise<Hub> {
    const logger = opts.logger ?? createLogger(config.log.level);
    const clock = opts.clock ?? systemClock;
    const dataDir = ensureDataDir(config.dataDir);
    await checkPortsFree(portTargets(config), runningHubHint(dataDir));
    const tls = ensureTlsMaterial({ dataDir, hosts: config.hosts, tls: config.tls });
    if (tls.issued) logger.info({ hosts: config.hosts }, 'issued a new server certificate');

    const parts: Parts = {};
    const metrics = new HubMetrics();
    metrics.collectProcessMetrics();
    const memoryLog = logger.child({ component: 'memory' });
    // glibc's malloc_trim and figures: without them (no glibc, no build) the hub works as before.
    const native = await loadNativeHeap((reason) =>
      memoryLog.debug({ reason }, 'no malloc_trim: native memory freed after a load stays with glibc'),
    );
    if (native) metrics.watchNativeHeap(native);
    // Set once start has finished: until then /ready says "starting".
    let started: Hub | undefined;
    let storage: StorageHealth | undefined;
    let commits: CommitWatch | undefined;
    // ferry_ready: what /ready answers, read without the probe /ready may start (a scrape never queries the store).
    metrics.watchReadiness(
      () => (started?.ready ?? false) && storage?.healthy !== false && commits?.unavailableNow() === undefined,
    );
    try {
      if (config.observability.port !== 0) {
        parts.operations = await OperationsListener.start({
          bind: config.observability.bind,
          port: config.observability.port,
          handler: operationsHandler({
            metrics,
            isReady: () => started?.ready ?? false,
            storageFailing: () => storage?.healthy === false,
            storageUnavailable: () => commits?.unavailable(),
            isStopping: () => started !== undefined && !started.ready,
          }),
          logger: logger.child({ component: 'operations' }),
        });
      }
      // Storage faults (disk full, I/O errors) become ServerBusy answers, one log line, /ready 503.
      storage = new StorageHealth(logger.child({ component: 'storage' }), metrics.registry);
      const signals = await openStore(config, logger, parts);
      // Several nodes: each node's series carry its id (as its log lines do).
      if (parts.postgres) metrics.setNode(parts.postgres.store.nodeId);
      const guarded = guardStore(parts.store!, storage);
      // A failed or overdue commit (a database restarting or paused) turns /ready to 503 too.
      commits = new CommitWatch({
        timeoutMs: config.observability.readyStoreTimeoutMs,
        ping: () => guarded.ping(),
        logger: logger.child({ component: 'storage' }),
      });
      const store = watchCommits(guarded, commits);
      parts.store = store;
      parts.engine = new Engine({
        store,
        clock,
        c2d: config.c2d,
        feedback: config.feedback,
        logger: logger.child({ component: 'engine' }),
        signals,
        observer: metrics,
        ...(config.store.kind === 'postgres' ? { deadlinePollMs: CLUSTER_DEADLINE_POLL_MS } : {}),
      });
      parts.engine.start();
      // The pending counts start from the store's (what a previous run left), before any traffic.
      parts.counts = metrics.pending;
      const sqlite = parts.store instanceof SqliteStore ? parts.store : undefined;
      parts.idleMemory = new IdleMemoryRelease({
        logger: memoryLog,
        ...(native ? { native } : {}),
        ...(sqlite ? { releaseCaches: () => sqlite.releaseMemory() } : {}),
      });
      await metrics.pending.start(store, clock, config.store.kind === 'postgres', (err) =>
        logger.warn({ err }, 'recounting pending messages failed; the metrics keep their last counts'),
      );
      const engine = meteredEngine(parts.engine, metrics, clock);
      const nodeId = parts.postgres ? parts.postgres.store.nodeId : `${hostname()}-${process.pid}`;
      const clusterLog = logger.child({ component: 'cluster' });
      parts.presence = new PresenceBook({ store, nodeId, clock, logger: clusterLog });
      const registry = new DeviceRegistry({
        store,
        engine,
        clock,
        logger: logger.child({ component: 'registry' }),
        cluster: signals,
        presence: parts.presence,
      });
      await registry.init();
      const duties = await startNodeDuties({
        store,
        postgres: parts.postgres?.store,
        nodeId,
        registry,
        signals,
        config,
        clock,
        logger: clusterLog,
        address: () => `${config.hosts[0]}:${parts.listeners?.ports.https ?? config.ports.https}`,
        connections: () => registry.connectedDevices().length,
        counters: () => metrics.totals(),
      });
      [parts.heartbeat, parts.replay] = [duties.heartbeat, duties.replay];
      metrics.watchHubConnections(duties.heartbeat);
      parts.telemetry = new Telemetry({
        store,
        registry,
        clock,
        config: config.events,
        logger: logger.child({ component: 'telemetry' }),
        cluster: signals,
      });
      parts.telemetry.start();
      metrics.watchTelemetry(parts.telemetry);
      const auth = new SasAuthenticator({ registry, hosts: config.hosts, clock });
      // The verified CAs are the TLS listeners' trust anchors: read again after every CA write
      // here or on another node, and after missed signals; a removed one cuts its connections.
      const caCertificates = new CaCertificates(parts.store, clock, async () => {
        signals.publishCaChange();
        await readCas();
      });
      const caTrust = new CaTrust({
        source: caCertificates,
        disconnectOnRemoval: config.x509.disconnectOnCaRemoval,
        logger: logger.child({ component: 'x509' }),
      });
      // Logged by CaTrust; the next authentication reads the set again.
      const readCas = () => caTrust.refresh().catch(() => undefined);
      await caTrust.refresh();
      signals.onRemoteCaChange(() => void readCas());
      signals.onSignalsMissed(() => void readCas());
      const x509 = new X509Authenticator({ registry, caCertificates: caTrust, clock });
      const twins = new Twins({
        store,
        clock,
        presence: (id) => registry.presence(id),
        c2dCount: (id) => engine.queueDepth(id),
        signals,
      });
      const relay = parts.postgres
        ? (await import('./cluster/postgres-method-relay.js')).postgresMethodRelay(
            parts.postgres.store,
            parts.postgres.bus,
            clock,
            logger.child({ component: 'methods' }),
          )
        : undefined;
      const methods = new Methods({
        clock,
        deviceExists: async (id) => (await registry.identity(id)) !== undefined,
        observer: metrics,
        ...(relay ? { relay } : {}),
      });
      parts.methods = methods;
      parts.jobs = new Jobs({
        store,
        clock,
        nodeId: parts.postgres ? parts.postgres.store.nodeId : `${process.pid}`,
        config: config.jobs,
        logger: logger.child({ component: 'jobs' }),
        twins,
        methods,
        c2d: parts.engine,
      });
      const jobs = parts.jobs;
      parts.refusals = new RefusalThrottle(logger.child({ component: 'refusals' }), clock);
      const refusals = parts.refusals;
      const ctx = (component: string): GatewayContext => ({
        engine,
        registry,
        auth,
        config,
        clock,
        logger: logger.child({ component }),
        hubName: hubNameOf(config.hosts[0]!),
        sessions: store,
        cluster: signals,
        x509,
        caTrust,
        caCertificates,
        twins,
        methods,
        jobs,
        refusals,
        refusalMeter: metrics,
        nodes: store,
        telemetry: parts.telemetry,
      });
      const mqtt = createMqttGateway(ctx('mqtt'));
      const amqp = createAmqpGateway(ctx('amqp'));
      const inspector = createInspector({
        store: parts.store,
        clock,
        metrics,
        connections: { mqtt, amqp },
        feedback: parts.engine,
        cluster: signals,
        hubConnections: parts.heartbeat,
        nodes: parts.postgres && { nodeId, list: () => store.listNodes() },
      });
      // The consoles on the other nodes show this node's feedback records live too.
      parts.engine.onFeedbackRecords((records) => signals.publishFeedbackRecords(records));
      parts.gateways = {
        http: createHttpGateway(ctx('http'), {
          inspector,
          files: consoleFilesFor(config, logger),
          caFile: tls.caFile,
        }),
        mqtt,
        amqp,
      };
      metrics.watchConnections('mqtt', parts.gateways.mqtt);
      metrics.watchConnections('amqp', parts.gateways.amqp);
      parts.listeners = await Listeners.start({
        bind: config.bind,
        ports: config.ports,
        tls: { certPem: tls.certPem, keyPem: tls.keyPem },
        clientCas: caTrust.pems(),
        gateways: parts.gateways,
        logger: logger.child({ component: 'listeners' }),
        caFile: tls.caFile,
        onConnection: (protocol, transport) => metrics.connectionsTotal.inc({ protocol, transport }),
        onHandshakeFailed: (port, reason) => metrics.handshakeFailed(port, reason),
        onRefused: (protocol, cause) => metrics.refused(protocol, cause),
        limits: config.connections,
      });
      const listeners = parts.listeners;
      caTrust.onChange((pems) => listeners.setClientCas(pems));
      // A change between the first read and the listeners binding: they must not keep the old set.
      listeners.setClientCas(caTrust.pems());
      // The heartbeat's address now carries the bound HTTPS port.
      await parts.heartbeat.beat();
      const hub = new Hub({ config, logger, metrics, registry, caFile: tls.caFile, parts });
      writeHubInfo(dataDir, {
        hosts: [...config.hosts],
        bind: config.bind,
        ports: { ...hub.ports },
        caFile: tls.caFile,
        pid: process.pid,
        startedAt: new Date(clock.now()).toISOString(),
      });
      logger.info(
        { hosts: config.hosts, bind: config.bind, ports: hub.ports, operations: hub.operations, dataDir },
        'hub ready',
      );
      // Jobs start once the hub serves: a resumed job's devices can be reached.
      jobs.start();
      started = hub;
      return hub;
    } catch (err) {
      await teardown(parts, logger);
      throw err;
    }
  }

  /** The hub name: the first DNS label of the first host. */
  get hubName(): string {
    return hubNameOf(this.config.hosts[0]!);
  }

  /** True from a successful start until stop() begins. */
  get ready(): boolean {
    return this.stopping === undefined;
  }

  /** A shared access policy's connection string (HostName = the first host). */
  connectionString(policy = 'iothubowner'): string {
    const p = this.registry.policy(policy);
    if (!p) {
      const known = this.registry
        .policies()
        .map((x) => x.keyName)
        .join(', ');
      throw new FerryError('ArgumentInvalid', `no shared access policy named ${policy}; this hub has ${known}`);
    }
    return formatHubConnectionString({
      hostName: this.config.hosts[0]!,
      sharedAccessKeyName: p.keyName,
      sharedAccessKey: p.primaryKey,
    });
  }

  /** Graceful stop; calling it again returns the same promise. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('hub stopping');
      await teardown(this.parts, this.logger);
      this.logger.info('hub stopped');
    })();
    return this.stopping;
  }
}

/** Every port the hub will bind, in the order it binds them. */
function portTargets(config: Readonly<HubConfig>): BindTarget[] {
  const targets: BindTarget[] = (['https', 'mqtts', 'amqps'] as const).map((name) => ({
    name,
    address: config.bind,
    port: config.ports[name],
  }));
  if (config.observability.port !== 0) {
    targets.push(operationsTarget(config.observability.bind, config.observability.port));
  }
  return targets;
}

/** The hub that last ran from this data dir, if its hub.json says so. */
function runningHubHint(dataDir: string): RunningHubHint | undefined {
  const info = readHubInfo(dataDir);
  return info ? { pid: info.pid, dataDir, startedAt: info.startedAt } : undefined;
}
