/** What a device sends as telemetry (device-to-cloud), once a gateway has read its wire. */

/** One telemetry message: the system properties a device may set, its application properties, its body. */
export interface TelemetryMessage {
  messageId?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Absolute expiry, ms since the epoch. */
  expiryTimeUtc?: number;
  /**
   * The Plug and Play component the message is about (`dt-subject`): MQTT `$.sub`, an AMQP
   * message annotation, an HTTP `dt-subject` header. Readers get it as a message annotation.
   */
  componentName?: string;
  /** Application properties, kept as sent. */
  properties: Record<string, string>;
  body: Buffer;
}

/** How the sending connection proved the device: a SAS token or its X.509 certificate. */
export type TelemetryAuth = 'sas' | 'x509';

export interface TelemetrySender {
  deviceId: string;
  auth: TelemetryAuth;
  /** 'hub' when a policy token with DeviceConnect vouches for the device, 'device' for its own key or certificate. */
  scope: 'device' | 'hub';
}

/** IoT Hub's limit on one device-to-cloud message: body and properties together. */
export { MAX_TELEMETRY_BYTES } from '@ferry/common';

export interface TelemetryConfig {
  /** Partitions of the built-in endpoint (fixed for a hub's life: the device -> partition map depends on it). */
  partitions: number;
  /** Events older than this are removed. */
  retentionMs: number;
  /** The log's size cap over all partitions; the oldest events beyond it are removed. */
  maxBytes: number;
  /** How often retention runs. */
  retentionCheckMs: number;
}
