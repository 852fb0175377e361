/**
 * Checks on what registry callers send: device ids, Device JSON bodies, keys, If-Match values.
 * Every failure is a FerryError ArgumentInvalid that names the offending field.
 */
import { FerryError } from '@ferry/common';
import type { DeviceRecord } from '../store/types.js';
import type { DeviceStatus } from './types.js';

export const MAX_DEVICE_ID_LENGTH = 128;
export const MAX_STATUS_REASON_LENGTH = 128;
const MIN_KEY_BYTES = 16;
const MAX_KEY_BYTES = 64;

// The union of the lists in Microsoft's docs (spec c2d-semantics.md 5.6): ASCII alphanumerics
// plus - : . + % _ # * ? ! ( ) , = @ ; $ '
const DEVICE_ID = /^[A-Za-z0-9\-:.+%_#*?!(),=@;$']+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function invalid(message: string): FerryError {
  return new FerryError('ArgumentInvalid', message);
}

export function validateDeviceId(id: unknown): string {
  if (typeof id !== 'string' || id === '') throw invalid('deviceId is required and must be a non-empty string');
  if (id.length > MAX_DEVICE_ID_LENGTH) {
    throw invalid(`deviceId is ${id.length} characters long; at most ${MAX_DEVICE_ID_LENGTH} are allowed`);
  }
  if (!DEVICE_ID.test(id)) {
    throw invalid(
      `deviceId "${id.slice(0, 40)}" has a character outside ASCII alphanumerics and - : . + % _ # * ? ! ( ) , = @ ; $ '`,
    );
  }
  return id;
}

/** A symmetric key must be base64 of 16 to 64 bytes. */
export function validateKey(field: string, key: string): string {
  if (!BASE64.test(key)) throw invalid(`${field} is not valid base64`);
  const bytes = Buffer.from(key, 'base64').length;
  if (bytes < MIN_KEY_BYTES || bytes > MAX_KEY_BYTES) {
    throw invalid(`${field} decodes to ${bytes} bytes; it must be ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES}`);
  }
  return key;
}

// A SHA-1 (40) or SHA-256 (64) hash in hex, as IoT Hub takes x509Thumbprint values.
const THUMBPRINT = /^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$/;

/** A thumbprint must be 40 or 64 hex digits; an empty one means "none" (undefined). */
export function validateThumbprint(field: string, v: unknown): string | null | undefined {
  const s = optionalString(field, v);
  if (s === undefined || s === null || s.trim() === '') return s === undefined ? undefined : null;
  if (!THUMBPRINT.test(s.trim())) {
    throw invalid(`${field} must be a SHA-1 (40 hex digits) or SHA-256 (64 hex digits) thumbprint`);
  }
  return s.trim().toUpperCase();
}

/** An empty If-Match or the etag stripped of W/ and quotes; '*' stays '*'. */
export function normalizeEtag(value: string): string {
  let v = value.trim();
  if (v.startsWith('W/')) v = v.slice(2);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  return v;
}

/** The fields a PUT body may set. Read-only fields (etag, generationId, connectionState...) are ignored, as Azure does. */
export interface DeviceInput {
  deviceId: string | undefined;
  status: DeviceStatus | undefined;
  statusReason: string | null | undefined;
  authType: DeviceRecord['authType'] | undefined;
  primaryKey: string | undefined;
  secondaryKey: string | undefined;
  primaryThumbprint: string | null | undefined;
  secondaryThumbprint: string | null | undefined;
  iotEdge: boolean | undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalObject(field: string, v: unknown): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalid(`${field} must be an object`);
  return v;
}

function optionalString(field: string, v: unknown): string | null | undefined {
  if (v === undefined || v === null) return v;
  if (typeof v !== 'string') throw invalid(`${field} must be a string`);
  return v;
}

/** Empty or missing key = "generate one" on create, "keep the stored one" on update. */
function optionalKey(field: string, v: unknown): string | undefined {
  const s = optionalString(field, v);
  if (s === undefined || s === null || s === '') return undefined;
  return validateKey(field, s);
}

const AUTH_TYPES: ReadonlyArray<DeviceRecord['authType']> = ['sas', 'selfSigned', 'certificateAuthority', 'none'];

export function parseDeviceBody(body: unknown): DeviceInput {
  if (!isObject(body)) throw invalid('the body must be a Device JSON object');
  const deviceId = body.deviceId === undefined ? undefined : validateDeviceId(body.deviceId);

  let status: DeviceStatus | undefined;
  if (body.status !== undefined && body.status !== null) {
    // The docs write Enabled/Disabled, the swagger enabled/disabled: accept both.
    const s = typeof body.status === 'string' ? body.status.toLowerCase() : '';
    if (s !== 'enabled' && s !== 'disabled') throw invalid('status must be "enabled" or "disabled"');
    status = s;
  }

  const statusReason = optionalString('statusReason', body.statusReason);
  if (typeof statusReason === 'string' && statusReason.length > MAX_STATUS_REASON_LENGTH) {
    throw invalid(`statusReason is longer than ${MAX_STATUS_REASON_LENGTH} characters`);
  }

  const auth = optionalObject('authentication', body.authentication);
  const sym = optionalObject('authentication.symmetricKey', auth?.symmetricKey);
  const x509 = optionalObject('authentication.x509Thumbprint', auth?.x509Thumbprint);
  let authType: DeviceRecord['authType'] | undefined;
  if (auth?.type !== undefined && auth.type !== null) {
    authType = AUTH_TYPES.find((t) => t === auth.type);
    if (!authType) throw invalid(`authentication.type must be one of ${AUTH_TYPES.join(', ')}`);
  }

  const caps = optionalObject('capabilities', body.capabilities);
  if (caps?.iotEdge !== undefined && typeof caps.iotEdge !== 'boolean')
    throw invalid('capabilities.iotEdge must be a boolean');

  return {
    deviceId,
    status,
    statusReason,
    authType,
    primaryKey: optionalKey('authentication.symmetricKey.primaryKey', sym?.primaryKey),
    secondaryKey: optionalKey('authentication.symmetricKey.secondaryKey', sym?.secondaryKey),
    primaryThumbprint: validateThumbprint('authentication.x509Thumbprint.primaryThumbprint', x509?.primaryThumbprint),
    secondaryThumbprint: validateThumbprint(
      'authentication.x509Thumbprint.secondaryThumbprint',
      x509?.secondaryThumbprint,
    ),
    iotEdge: caps?.iotEdge as boolean | undefined,
  };
}
