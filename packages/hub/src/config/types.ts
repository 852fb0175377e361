/** The hub's configuration: one typed shape, Azure's defaults, parsed once and frozen. */

export interface C2dConfig {
  defaultTtlMs: number; // PT1H
  maxTtlMs: number; // P2D
  maxDeliveryCount: number; // 10, 1..100
  lockTimeoutMs: number; // 60 s
  maxQueueDepth: number; // 50
  maxMessageSize: number; // 65536
  /** Decision 1: lock expiry raises the delivery count too. */
  countLockExpiry: boolean;
  /** How long a dead-lettered message is kept (docs/dead-letters.md); 0 = dropped, as IoT Hub does. 1 day. */
  deadLetterRetentionMs: number;
  /** Kept dead letters per device, the oldest dropped first. 100. */
  maxDeadLettersPerDevice: number;
  /**
   * How long each message's history is kept after the message's end (docs/message-history.md);
   * absent = feedback.ttlMs (as long as its feedback would be); 0 = no history recorded.
   */
  historyRetentionMs?: number;
}

export interface FeedbackConfig {
  batchMaxRecords: number; // 64
  batchDelayMs: number; // 15 s; 0 = at once
  lockDurationMs: number; // 60 s, 5..300 s
  ttlMs: number; // PT1H
  maxDeliveryCount: number; // 10
}

/** The telemetry event log (the built-in Event Hubs-compatible endpoint). */
export interface EventsConfig {
  /** 4; fixed for a hub's life (a device's partition is a hash of its id modulo this). */
  partitions: number;
  /** 1 day; IoT Hub allows 1 to 7 days. */
  retentionMs: number;
  /** The log's size cap over all partitions (each keeps an equal share); 1 GiB. */
  maxBytes: number;
  /** How often retention runs; 60 s. */
  retentionCheckMs: number;
}

export interface TlsConfig {
  /** PEM files of a user-provided certificate and key; when absent Ferry makes its own CA. */
  certFile?: string;
  keyFile?: string;
  /** PEM of the CA that issued certFile, printed for clients to trust (optional). */
  caFile?: string;
}

export type StoreConfig =
  | {
      kind: 'sqlite' /** default `${dataDir}/ferry.db` */;
      path?: string;
      synchronous: 'FULL' | 'NORMAL';
      worker?: boolean;
      /** SQLite's page cache of the hub's connection, at most (absent: the store's default, 4 MiB). */
      pageCacheMb?: number;
    }
  /** Several nodes share one hub through it; `schema` (default "ferry") lets hubs share a database. */
  | { kind: 'postgres'; url: string; schema: string };

export interface ConnectionLimits {
  /** A TLS handshake not finished in this time is dropped (8883, 5671, 443). */
  tlsHandshakeTimeoutMs: number;
  /** After TLS, the first protocol packet (MQTT CONNECT, AMQP header, HTTP request headers) must arrive within this. */
  firstPacketTimeoutMs: number;
  /** Accepted sockets still in their TLS handshake, across listeners; more are dropped at once. */
  maxPendingHandshakes: number;
  /** An MQTT or AMQP connection whose outgoing data has not drained for this long is closed (its leases go back). */
  writeStallTimeoutMs: number;
  /** Refused requests (link attaches, subscriptions) one connection may make before it is closed. */
  maxRefusals: number;
  /** Refusals logged one by one per connection; the rest are counted and summarised. */
  loggedRefusals: number;
}

/** docs/jobs.md */
export interface JobsConfig {
  /** Devices acted on per second by one node, all its jobs together. */
  maxDevicesPerSecond: number;
  /** How long a node's claim on a job holds without renewal; another node resumes the job after it. */
  leaseMs: number;
  /** How often a node looks for due jobs. */
  pollIntervalMs: number;
  /** How long a job waits before trying again the devices that refused (a full queue). */
  retryIntervalMs: number;
  /** Jobs one node runs at once. */
  maxConcurrent: number;
  /** How long a finished job and its devices' results are kept (IoT Hub: 30 days); 0 = not deleted. */
  retentionMs: number;
}

export interface HubConfig {
  /** Names and addresses clients use; the first names the hub (hub name = its first DNS label). */
  hosts: string[];
  dataDir: string;
  /** Address every listener binds to; default '0.0.0.0' (all IPv4 interfaces, as a server does). */
  bind: string;
  ports: { https: number; mqtts: number; amqps: number };
  tls: TlsConfig;
  store: StoreConfig;
  c2d: C2dConfig;
  feedback: FeedbackConfig;
  events: EventsConfig;
  /** Jobs over a query's devices (docs/jobs.md). */
  jobs: JobsConfig;
  mqtt: { maxInflight: number; maxSubscriptions: number; maxConnections: number };
  amqp: { idleTimeoutMs: number; maxConnections: number; maxLinksPerConnection: number };
  http: { maxBodyBytes: number };
  /** Deadlines and caps on every accepted socket, whatever its protocol (docs/robustness.md). */
  connections: ConnectionLimits;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /**
   * The operations endpoint (plain HTTP: /metrics, /health, /ready). port 0 = disabled; bind
   * defaults to loopback so that operations data stays on the machine unless the operator opts in.
   */
  observability: {
    port: number;
    bind: string;
    /**
     * /ready answers 503 "storage unavailable" once a commit (or, on an idle node, a probe of the
     * store) has waited this long without any succeeding meanwhile (store/commit-watch.ts).
     */
    readyStoreTimeoutMs: number;
  };
  /** The web console at https://<host>/console/ (packages/console), on by default. */
  console: { enabled: boolean };
  /**
   * X.509 devices (docs/x509.md). disconnectOnCaRemoval: deleting or un-verifying a hub CA
   * certificate cuts the connections authenticated through it, as a revocation (default true);
   * false only refuses new connections.
   */
  x509: { disconnectOnCaRemoval: boolean };
  /**
   * Several nodes (docs/operations.md): each node heart-beats every nodeTimeoutMs / 3; a node
   * silent for nodeTimeoutMs is released by the others (its devices shown Disconnected).
   */
  cluster: { nodeTimeoutMs: number };
}
