/**
 * One schema for every configuration leaf, by dotted path. It drives validation of the config
 * file, the command-line flags and the environment (each leaf's variable is FERRY_ + its path in
 * UPPER_SNAKE: c2d.lockTimeoutMs -> FERRY_C2D_LOCK_TIMEOUT_MS, dataDir -> FERRY_DATA_DIR).
 */

export type Leaf =
  | { kind: 'int'; min: number; max: number }
  /** Milliseconds, given as a number or as an ISO 8601 duration string. */
  | { kind: 'duration'; min: number; max: number }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'string' }
  /** A non-empty list of DNS names or IP addresses; a comma list in the environment. */
  | { kind: 'hosts' };

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

const int = (min: number, max: number): Leaf => ({ kind: 'int', min, max });
const duration = (min: number, max: number): Leaf => ({ kind: 'duration', min, max });
const enumOf = (...values: string[]): Leaf => ({ kind: 'enum', values });
const string: Leaf = { kind: 'string' };
const bool: Leaf = { kind: 'bool' };

// Lower bounds are looser than Azure's (a 5 s lock minimum, a 1 min TTL minimum) so tests can
// run lock and TTL scenarios in seconds; upper bounds keep numbers sane.
export const LEAVES: Readonly<Record<string, Leaf>> = {
  hosts: { kind: 'hosts' },
  dataDir: string,
  bind: string,
  'ports.https': int(0, 65535),
  'ports.mqtts': int(0, 65535),
  'ports.amqps': int(0, 65535),
  'tls.certFile': string,
  'tls.keyFile': string,
  'tls.caFile': string,
  'store.kind': enumOf('sqlite', 'postgres'),
  'store.path': string,
  'store.synchronous': enumOf('FULL', 'NORMAL'),
  'store.worker': bool,
  'store.pageCacheMb': int(1, 4096),
  'store.url': string,
  'store.schema': string,
  'c2d.defaultTtlMs': duration(1, 365 * DAY),
  'c2d.maxTtlMs': duration(1, 365 * DAY),
  'c2d.maxDeliveryCount': int(1, 100),
  'c2d.lockTimeoutMs': duration(1, HOUR),
  'c2d.maxQueueDepth': int(1, 1_000_000),
  'c2d.maxMessageSize': int(1, 16 * 1024 * 1024),
  'c2d.countLockExpiry': bool,
  // docs/dead-letters.md; 0 = IoT Hub's drop
  'c2d.deadLetterRetentionMs': duration(0, 30 * DAY),
  'c2d.maxDeadLettersPerDevice': int(1, 10_000),
  // docs/message-history.md; absent = feedback.ttlMs, 0 = off
  'c2d.historyRetentionMs': duration(0, 30 * DAY),
  'feedback.batchMaxRecords': int(1, 100_000),
  'feedback.batchDelayMs': duration(0, HOUR),
  'feedback.lockDurationMs': duration(1, HOUR),
  'feedback.ttlMs': duration(1, 365 * DAY),
  'feedback.maxDeliveryCount': int(1, 100),
  'events.partitions': int(1, 32),
  // IoT Hub's range is 1 to 7 days; shorter is allowed (tests, small disks), longer is not.
  'events.retentionMs': duration(SECOND, 7 * DAY),
  'events.maxBytes': int(1024 * 1024, 2 ** 50),
  'events.retentionCheckMs': duration(100, HOUR),
  // docs/jobs.md
  'jobs.maxDevicesPerSecond': int(1, 1_000_000),
  'jobs.leaseMs': duration(1000, HOUR),
  'jobs.pollIntervalMs': duration(10, HOUR),
  'jobs.retryIntervalMs': duration(10, HOUR),
  'jobs.maxConcurrent': int(1, 1000),
  'jobs.retentionMs': duration(0, 365 * DAY),
  'mqtt.maxInflight': int(1, 65535),
  'mqtt.maxSubscriptions': int(1, 1000),
  'mqtt.maxConnections': int(1, 10_000_000),
  'amqp.idleTimeoutMs': duration(0, DAY),
  'amqp.maxConnections': int(1, 10_000_000),
  'amqp.maxLinksPerConnection': int(1, 65536),
  'http.maxBodyBytes': int(1, 64 * 1024 * 1024),
  'connections.tlsHandshakeTimeoutMs': duration(100, HOUR),
  'connections.firstPacketTimeoutMs': duration(100, HOUR),
  'connections.maxPendingHandshakes': int(1, 1_000_000),
  'connections.writeStallTimeoutMs': duration(100, DAY),
  'connections.maxRefusals': int(1, 1_000_000),
  'connections.loggedRefusals': int(0, 1_000_000),
  'log.level': enumOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  // 0 disables the endpoint (it does not mean "any free port" as it does for ports.*).
  'observability.port': int(0, 65535),
  'observability.bind': string,
  'observability.readyStoreTimeoutMs': duration(100, HOUR),
  'console.enabled': bool,
  'x509.disconnectOnCaRemoval': bool,
  'cluster.nodeTimeoutMs': duration(1000, HOUR),
};

/** Every object-valued path above a leaf ('ports', 'c2d', ...). */
export const GROUPS: ReadonlySet<string> = new Set(
  Object.keys(LEAVES).flatMap((path) => {
    const parts = path.split('.');
    return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('.'));
  }),
);

/** c2d.lockTimeoutMs -> FERRY_C2D_LOCK_TIMEOUT_MS */
export function envName(path: string): string {
  return `FERRY_${path
    .split('.')
    .map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}

export const ENV_TO_PATH: ReadonlyMap<string, string> = new Map(Object.keys(LEAVES).map((p) => [envName(p), p]));
