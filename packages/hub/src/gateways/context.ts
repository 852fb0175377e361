/** What every gateway is given. Gateways never open sockets: listeners hand them streams. */

import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { CaRevocations } from '../auth/ca-trust.js';
import type { Authenticator } from '../auth/types.js';
import type { ClientCertificate, X509Authenticator } from '../auth/x509.js';
import type { Clock } from '../clock.js';
import type { ClusterEvents } from '../cluster/signal-bus.js';
import type { HubConfig } from '../config/types.js';
import type { C2dEngine } from '../engine/types.js';
import type { Jobs } from '../jobs/index.js';
import type { Methods } from '../methods/index.js';
import type { RefusalMeter } from '../observability/metrics.js';
import type { CaCertificates } from '../registry/ca-certificates.js';
import type { Registry } from '../registry/types.js';
import type { ClusterStore, RegistryStore } from '../store/types.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { Twins } from '../twins/index.js';
import type { RefusalThrottle } from './refusal-throttle.js';

export interface GatewayContext {
  engine: C2dEngine;
  registry: Registry;
  auth: Authenticator;
  config: Readonly<HubConfig>;
  clock: Clock;
  logger: Logger;
  /** Hub name (first DNS label of the first host), used as AMQP user_id of feedback etc. */
  hubName: string;
  /** Persistent MQTT sessions (clean session 0); the MQTT gateway keeps them in memory when absent. */
  sessions?: Pick<RegistryStore, 'getMqttSession' | 'putMqttSession' | 'deleteMqttSession'>;
  /** Connection claims between nodes (a device has one connection hub-wide); absent for one process. */
  cluster?: Pick<ClusterEvents, 'publishConnection' | 'onRemoteConnection'>;
  /** X.509 device authentication; without it a device presenting only a certificate is refused. */
  x509?: X509Authenticator;
  /** Verified hub CAs deleted or un-verified: connections authenticated through them are cut. */
  caTrust?: CaRevocations;
  /** Device-to-cloud telemetry and the built-in endpoint; without it telemetry is refused as not implemented. */
  telemetry?: Telemetry;
  /** The hub's CA certificates (REST /certificates); without it those routes answer NotImplemented. */
  caCertificates?: CaCertificates;
  /** Device twins and queries; without it the twin routes, topics and links answer NotImplemented. */
  twins?: Twins;
  /** Direct methods; without it the method route answers NotImplemented and devices cannot subscribe. */
  methods?: Methods;
  /** Jobs over a query's devices (REST /jobs/v2); without it those routes answer NotImplemented. */
  jobs?: Jobs;
  /** Refusal lines by device and cause, hub-wide (a reconnect storm); without it every refusal is logged. */
  refusals?: RefusalThrottle;
  /** Counts refused connections and requests (ferry_refusals_total); absent in most gateway tests. */
  refusalMeter?: RefusalMeter;
  /** The hub's nodes and its connected devices, hub-wide (GET /nodes); without it that route answers NotImplemented. */
  nodes?: Pick<ClusterStore, 'listNodes' | 'countConnected'>;
}

export interface ConnectionInfo {
  remoteAddress: string | undefined;
  transport: 'tls' | 'ws' | 'memory';
  /** The certificates the client presented in the TLS handshake, leaf first, and OpenSSL's verdict on them. */
  clientCertificates?: ClientCertificate;
}

/** A stream-based protocol gateway (MQTT, AMQP). */
export interface StreamGateway {
  /** Serve one connection on any Duplex (TLS socket, WebSocket stream, in-memory pair). */
  handle(stream: Duplex, info: ConnectionInfo): void;
  /** Stop accepting, close connections cleanly, return leased messages. */
  close(): Promise<void>;
  /** Live connection count (for metrics and caps). */
  readonly connectionCount: number;
}
