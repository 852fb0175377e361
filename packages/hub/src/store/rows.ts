/**
 * The registry rows as both SQL adapters read them: same column names, one mapping. SQLite gives
 * booleans as 0/1 and integers as numbers; node-postgres gives booleans and bigints as strings.
 * And the optional message fields, as every store sets them on a message it returns.
 */
import type { Ack, Delivery, StoredMessage } from '@ferry/common';
import type { CaCertificateRecord, DeviceRecord, MqttSessionRecord, NewMessage } from './types.js';

/** A message's optional fields as a row or a new message holds them (null, undefined or '' when unset). */
export interface OptionalMessageFields {
  ack?: Ack | '' | null | undefined;
  defaultExpiry?: boolean | number | null | undefined;
  messageId?: string | null | undefined;
  correlationId?: string | null | undefined;
  userId?: string | null | undefined;
  contentType?: string | null | undefined;
  contentEncoding?: string | null | undefined;
}

/** The same fields as c2d_messages columns, in both SQL adapters. */
export interface OptionalMessageColumns {
  ack: Ack | '' | null;
  default_expiry: boolean | number;
  message_id: string | null;
  correlation_id: string | null;
  user_id: string | null;
  content_type: string | null;
  content_encoding: string | null;
}

export function optionalFieldsOfRow(r: OptionalMessageColumns): OptionalMessageFields {
  return {
    ack: r.ack,
    defaultExpiry: r.default_expiry,
    messageId: r.message_id,
    correlationId: r.correlation_id,
    userId: r.user_id,
    contentType: r.content_type,
    contentEncoding: r.content_encoding,
  };
}

/** Sets on `m` the optional fields that are set; what is unset stays absent (issue 13). */
export function withOptionalFields<T extends StoredMessage>(m: T, f: OptionalMessageFields): T {
  if (f.ack) m.ack = f.ack;
  if (f.defaultExpiry === true || f.defaultExpiry === 1) m.defaultExpiry = true;
  if (f.messageId != null) m.messageId = f.messageId;
  if (f.correlationId != null) m.correlationId = f.correlationId;
  if (f.userId != null) m.userId = f.userId;
  if (f.contentType != null) m.contentType = f.contentType;
  if (f.contentEncoding != null) m.contentEncoding = f.contentEncoding;
  return m;
}

export interface DeviceRow {
  device_id: string;
  generation_id: string;
  etag: string;
  status: 'enabled' | 'disabled';
  status_reason: string | null;
  status_updated_time: string;
  auth_type: DeviceRecord['authType'];
  primary_key: string | null;
  secondary_key: string | null;
  primary_thumbprint: string | null;
  secondary_thumbprint: string | null;
  iot_edge: number | boolean;
}

export const DEVICE_COLUMNS = `device_id, generation_id, etag, status, status_reason, status_updated_time, auth_type,
  primary_key, secondary_key, primary_thumbprint, secondary_thumbprint, iot_edge`;

export function deviceRecordOf(r: DeviceRow): DeviceRecord {
  return {
    deviceId: r.device_id,
    generationId: r.generation_id,
    etag: r.etag,
    status: r.status,
    statusReason: r.status_reason,
    statusUpdatedTime: r.status_updated_time,
    authType: r.auth_type,
    primaryKey: r.primary_key,
    secondaryKey: r.secondary_key,
    primaryThumbprint: r.primary_thumbprint,
    secondaryThumbprint: r.secondary_thumbprint,
    iotEdge: r.iot_edge === true || r.iot_edge === 1,
  };
}

export interface CaRow {
  name: string;
  etag: string;
  certificate: string;
  is_verified: number | boolean;
  verification_code: string | null;
  created_at: number | string;
  updated_at: number | string;
}

export const CA_COLUMNS = 'name, etag, certificate, is_verified, verification_code, created_at, updated_at';

export function caRecordOf(r: CaRow): CaCertificateRecord {
  return {
    name: r.name,
    etag: r.etag,
    certificatePem: r.certificate,
    isVerified: r.is_verified === true || r.is_verified === 1,
    verificationCode: r.verification_code,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/**
 * mqtt_sessions.twin_subs in both adapters, the $iothub topics a session subscribed to: 1 = twin
 * responses, 2 = desired notifications, 4 = direct methods (the column's name predates methods).
 */
export function twinSubsBits(s: Pick<MqttSessionRecord, 'twin' | 'methods'>): number {
  const twin = s.twin;
  return (twin ? (twin.responses ? 1 : 0) | (twin.desired ? 2 : 0) : 0) | (s.methods ? 4 : 0);
}

/** A session row as a record; `twin` only when a twin topic is subscribed. */
export function mqttSessionOf(r: {
  device_id: string;
  c2d_qos: number | null;
  twin_subs: number | null;
}): MqttSessionRecord {
  const s: MqttSessionRecord = { deviceId: r.device_id, c2dQos: r.c2d_qos === 0 || r.c2d_qos === 1 ? r.c2d_qos : null };
  const bits = Number(r.twin_subs ?? 0);
  if (bits & 3) s.twin = { responses: (bits & 1) !== 0, desired: (bits & 2) !== 0 };
  if (bits & 4) s.methods = true;
  return s;
}

/** A message as the row just inserted locked for a direct lease would read (first delivery). */
export function newDelivery(m: NewMessage, seq: number, now: number, lockToken: string, lockedUntil: number): Delivery {
  const d: Delivery = {
    deviceId: m.deviceId,
    sequenceNumber: seq,
    expiryTimeUtc: m.expiryTimeUtc,
    enqueuedTimeUtc: now,
    properties: { ...m.properties },
    body: m.body,
    deliveryCount: 0,
    lockToken,
    lockedUntil,
    redelivered: false,
  };
  return withOptionalFields(d, m);
}
