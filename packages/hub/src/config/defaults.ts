/** Azure IoT Hub's defaults (DESIGN.md "Configuration defaults"), and Ferry's own where Azure has none. */
import { deepFreeze } from './freeze.js';
import type { HubConfig } from './types.js';

const SECOND = 1000;
const HOUR = 3600 * SECOND;

export const DEFAULT_CONFIG: Readonly<HubConfig> = deepFreeze({
  hosts: ['localhost'],
  dataDir: './ferry-data',
  // A server listens on every interface by default; use --bind 127.0.0.1 to keep it local.
  bind: '0.0.0.0',
  ports: { https: 443, mqtts: 8883, amqps: 5671 },
  tls: {},
  store: { kind: 'sqlite', synchronous: 'FULL' },
  c2d: {
    defaultTtlMs: HOUR,
    maxTtlMs: 48 * HOUR,
    maxDeliveryCount: 10,
    lockTimeoutMs: 60 * SECOND,
    maxQueueDepth: 50,
    maxMessageSize: 65536,
    countLockExpiry: false,
    deadLetterRetentionMs: 24 * HOUR,
    maxDeadLettersPerDevice: 100,
  },
  feedback: {
    batchMaxRecords: 64,
    batchDelayMs: 15 * SECOND,
    lockDurationMs: 60 * SECOND,
    ttlMs: HOUR,
    maxDeliveryCount: 10,
  },
  events: { partitions: 4, retentionMs: 24 * HOUR, maxBytes: 1024 ** 3, retentionCheckMs: 60 * SECOND },
  jobs: {
    maxDevicesPerSecond: 1000,
    leaseMs: 30 * SECOND,
    pollIntervalMs: SECOND,
    retryIntervalMs: 5 * SECOND,
    maxConcurrent: 4,
    // IoT Hub keeps a job's history 30 days.
    retentionMs: 30 * 24 * HOUR,
  },
  mqtt: { maxInflight: 16, maxSubscriptions: 5, maxConnections: 100_000 },
  amqp: { idleTimeoutMs: 240 * SECOND, maxConnections: 100_000, maxLinksPerConnection: 4096 },
  http: { maxBodyBytes: 262_144 },
  connections: {
    tlsHandshakeTimeoutMs: 30 * SECOND,
    firstPacketTimeoutMs: 30 * SECOND,
    maxPendingHandshakes: 1000,
    writeStallTimeoutMs: 60 * SECOND,
    maxRefusals: 100,
    loggedRefusals: 10,
  },
  log: { level: 'info' },
  // Prometheus' registered default port for Node exporters; loopback only unless opted in.
  observability: { port: 9464, bind: '127.0.0.1', readyStoreTimeoutMs: 5 * SECOND },
  console: { enabled: true },
  x509: { disconnectOnCaRemoval: true },
  cluster: { nodeTimeoutMs: 30 * SECOND },
} satisfies HubConfig);
