/**
 * The registry rows as both SQL adapters read them: same column names, one mapping. SQLite gives
 * booleans as 0/1 and integers as numbers; node-postgres gives booleans and bigints as strings.
 */
import type { CaCertificateRecord, DeviceRecord } from './types.js';

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
