/** @ferry/hub: the server. The CLI and tests start it through Hub; everything else is internal. */

export { suggestClosest } from '@ferry/common';
export { hubNameOf } from './auth/hub-name.js';
export type { Authenticator, Operation, Permission, Principal } from './auth/types.js';
export { commonNameOf, thumbprintsOf } from './auth/x509.js';
export { type Clock, ManualClock, systemClock, type TimerHandle } from './clock.js';
export {
  ConfigError,
  type ConfigSources,
  DEFAULT_CONFIG,
  envName,
  parseConfig,
  parseIsoDuration,
  readConfigFile,
} from './config/index.js';
export type * from './config/types.js';
export {
  DB_FILE,
  ensureDataDir,
  HUB_INFO_FILE,
  type HubInfo,
  readHubInfo,
  readPolicyConnectionString,
  sqlitePath,
} from './data-dir.js';
export type { C2dEngine, SendResult } from './engine/types.js';
export type { ConnectionInfo, GatewayContext, StreamGateway } from './gateways/context.js';
export { servedRouteNames } from './gateways/http/gateway.js';
export { Hub, type HubStartOptions } from './hub.js';
export { createLogger } from './observability/logger.js';
export { HubMetrics } from './observability/metrics.js';
export type { BulkError, BulkResult } from './registry/bulk.js';
export type { CertificateDescription } from './registry/ca-certificates.js';
export type { DeviceJson, Registry, SharedAccessPolicy } from './registry/types.js';
export type { EventPosition, StoredEvent } from './store/event-log.js';
export { redactUrl } from './store/redact-url.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
export { DEFAULT_CONSUMER_GROUP, partitionOf, Telemetry } from './telemetry/index.js';
export {
  type CaFiles,
  type CertificateOptions,
  createTestCa,
  ensureCa,
  ensureTlsMaterial,
  issueCertificate,
  type KeyAndCert,
  selfSignedCertificate,
  type TlsMaterial,
  tlsDir,
} from './tls/index.js';
