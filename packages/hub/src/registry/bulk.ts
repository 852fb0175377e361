/**
 * Bulk registry writes (`POST /devices`, IoT Hub's ExportImportDevice array, at most 100 a call):
 * each entry is checked and planned against the stored devices, the writes go to the store in one
 * transaction, and every entry that fails is reported in IoT Hub's BulkRegistryOperationResult
 * instead of failing the call. Pure planning here; the registry reads, writes and notifies.
 */
import { FerryError, isFerryError } from '@ferry/common';
import type { DeviceRecord, DeviceWrite } from '../store/types.js';
import { newDeviceRecord, updatedDeviceRecord } from './device-records.js';
import { normalizeEtag, parseDeviceBody, validateDeviceId } from './validation.js';

export const MAX_BULK_DEVICES = 100;

export type ImportMode = 'create' | 'createOrUpdate' | 'update' | 'updateIfMatchETag' | 'delete' | 'deleteIfMatchETag';
const IMPORT_MODES: readonly ImportMode[] = [
  'create',
  'createOrUpdate',
  'update',
  'updateIfMatchETag',
  'delete',
  'deleteIfMatchETag',
];

/** IoT Hub's DeviceRegistryOperationError. */
export interface BulkError {
  deviceId: string;
  errorCode: string;
  errorStatus: string;
}

/** IoT Hub's BulkRegistryOperationResult. */
export interface BulkResult {
  isSuccessful: boolean;
  errors: BulkError[];
  warnings: Array<{ deviceId: string; warningCode: string; warningStatus: string }>;
}

/** One accepted entry: the write to make, and what a failed write means. */
export interface PlannedWrite {
  deviceId: string;
  write: DeviceWrite;
  /** The stored record for a replace (the change notification needs the new one, a delete none). */
  record: DeviceRecord | undefined;
  failure: BulkError;
}

export interface BulkPlan {
  writes: PlannedWrite[];
  errors: BulkError[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The entries of a bulk body; a body that is not 1-100 entries is refused as a whole. */
export function bulkEntries(body: unknown): unknown[] {
  if (!Array.isArray(body)) throw new FerryError('ArgumentInvalid', 'the body must be an array of devices');
  if (body.length === 0 || body.length > MAX_BULK_DEVICES) {
    throw new FerryError('ArgumentInvalid', `a bulk call takes 1 to ${MAX_BULK_DEVICES} devices, got ${body.length}`);
  }
  return body;
}

/** The id an entry names (`id` in ExportImportDevice, `deviceId` accepted too), for lookups and errors. */
export function entryId(entry: unknown): string {
  if (!isObject(entry)) return '';
  const id = entry.id ?? entry.deviceId;
  return typeof id === 'string' ? id : '';
}

function error(deviceId: string, errorCode: string, errorStatus: string): BulkError {
  return { deviceId, errorCode, errorStatus };
}

function parseMode(v: unknown): ImportMode {
  const mode = typeof v === 'string' ? IMPORT_MODES.find((m) => m.toLowerCase() === v.toLowerCase()) : undefined;
  if (!mode) throw new FerryError('ArgumentInvalid', `importMode must be one of ${IMPORT_MODES.join(', ')}`);
  return mode;
}

/**
 * Plans every entry against `stored` (the current record of each named id). Each id may appear
 * once; entries that cannot be applied become errors with IoT Hub's codes.
 */
export function planBulk(
  entries: readonly unknown[],
  stored: ReadonlyMap<string, DeviceRecord>,
  now: number,
): BulkPlan {
  const writes: PlannedWrite[] = [];
  const errors: BulkError[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const id = entryId(entry);
    try {
      if (!isObject(entry)) throw new FerryError('ArgumentInvalid', 'each entry must be a device object');
      validateDeviceId(id);
      if (seen.has(id)) {
        errors.push(error(id, 'DeviceDefinedMultipleTimes', `Device ${id} appears more than once in the request`));
        continue;
      }
      seen.add(id);
      const planned = planOne(entry, id, stored.get(id), now);
      if ('errorCode' in planned) errors.push(planned);
      else writes.push(planned);
    } catch (err) {
      if (!isFerryError(err)) throw err;
      errors.push(error(id, err.errorName, err.message));
    }
  }
  return { writes, errors };
}

function planOne(
  entry: Record<string, unknown>,
  id: string,
  existing: DeviceRecord | undefined,
  now: number,
): PlannedWrite | BulkError {
  const mode = parseMode(entry.importMode);
  const notFound = error(id, 'DeviceNotFound', `Device ${id} not found`);
  const etagMismatch = error(id, 'EtagDoesNotMatch', `The eTag does not match device ${id}`);
  const rawEtag = entry.eTag ?? entry.etag;
  const etagMatches = () =>
    existing !== undefined && typeof rawEtag === 'string' && normalizeEtag(rawEtag) === existing.etag;

  if (mode === 'delete' || mode === 'deleteIfMatchETag') {
    if (!existing) return notFound;
    const conditional = mode === 'deleteIfMatchETag';
    if (conditional && !etagMatches()) return etagMismatch;
    const expectedEtag = conditional ? existing.etag : undefined;
    return {
      deviceId: id,
      write: { kind: 'delete', deviceId: id, expectedEtag },
      record: undefined,
      failure: conditional ? etagMismatch : notFound,
    };
  }

  const input = parseDeviceBody({ ...entry, id: undefined, deviceId: id });
  if (mode === 'create' || (mode === 'createOrUpdate' && !existing)) {
    if (existing) return error(id, 'DeviceAlreadyExists', `A device with id ${id} already exists`);
    const record = newDeviceRecord({ ...input, deviceId: id }, now);
    return {
      deviceId: id,
      write: { kind: 'insert', device: record },
      record,
      failure: error(id, 'DeviceAlreadyExists', `A device with id ${id} already exists`),
    };
  }
  if (!existing) return notFound;
  const conditional = mode === 'updateIfMatchETag';
  if (conditional && !etagMatches()) return etagMismatch;
  const record = updatedDeviceRecord(existing, input, now);
  return {
    deviceId: id,
    write: { kind: 'replace', device: record, expectedEtag: conditional ? existing.etag : undefined },
    record,
    failure: conditional ? etagMismatch : notFound,
  };
}
