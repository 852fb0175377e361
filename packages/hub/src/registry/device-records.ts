/** Building the DeviceRecord a create or an update stores, from a parsed body (create, update and bulk share it). */
import { FerryError } from '@ferry/common';
import type { DeviceRecord } from '../store/types.js';
import { NEVER, newEtag, newGenerationId } from './device-json.js';
import { generateKey } from './policies.js';
import type { DeviceIdentity } from './types.js';
import type { DeviceInput } from './validation.js';

type Credentials = Pick<DeviceRecord, 'primaryKey' | 'secondaryKey' | 'primaryThumbprint' | 'secondaryThumbprint'>;

/** `field` of the input when given (null clears it), else the stored one. */
function given<T>(input: T | undefined, previous: T | undefined): T | undefined {
  return input !== undefined ? input : previous;
}

/** Keys and thumbprints for the chosen auth type; empty keys are kept from `previous` or generated. */
function credentials(
  input: DeviceInput,
  type: DeviceRecord['authType'],
  previous: DeviceRecord | undefined,
): Credentials {
  if (type === 'sas') {
    return {
      primaryKey: input.primaryKey ?? previous?.primaryKey ?? generateKey(),
      secondaryKey: input.secondaryKey ?? previous?.secondaryKey ?? generateKey(),
      primaryThumbprint: null,
      secondaryThumbprint: null,
    };
  }
  if (type === 'selfSigned') {
    const primaryThumbprint = given(input.primaryThumbprint, previous?.primaryThumbprint) ?? null;
    const secondaryThumbprint = given(input.secondaryThumbprint, previous?.secondaryThumbprint) ?? null;
    if (!primaryThumbprint) {
      throw new FerryError('ArgumentInvalid', 'authentication type selfSigned needs x509Thumbprint.primaryThumbprint');
    }
    return { primaryKey: null, secondaryKey: null, primaryThumbprint, secondaryThumbprint };
  }
  // certificateAuthority: the chain to a verified hub CA and the common name identify the device.
  return { primaryKey: null, secondaryKey: null, primaryThumbprint: null, secondaryThumbprint: null };
}

export function newDeviceRecord(input: DeviceInput & { deviceId: string }, now: number): DeviceRecord {
  const authType = input.authType ?? 'sas';
  return {
    deviceId: input.deviceId,
    generationId: newGenerationId(now),
    etag: newEtag(),
    status: input.status ?? 'enabled',
    statusReason: input.statusReason ?? null,
    statusUpdatedTime: NEVER,
    authType,
    ...credentials(input, authType, undefined),
    iotEdge: input.iotEdge ?? false,
  };
}

export function updatedDeviceRecord(existing: DeviceRecord, input: DeviceInput, now: number): DeviceRecord {
  const authType = input.authType ?? existing.authType;
  const status = input.status ?? existing.status;
  return {
    ...existing,
    etag: newEtag(),
    status,
    statusReason: input.statusReason === undefined ? existing.statusReason : input.statusReason,
    statusUpdatedTime: status === existing.status ? existing.statusUpdatedTime : new Date(now).toISOString(),
    authType,
    ...credentials(input, authType, existing),
    iotEdge: input.iotEdge ?? existing.iotEdge,
  };
}

export function toIdentity(r: DeviceRecord): DeviceIdentity {
  return {
    deviceId: r.deviceId,
    generationId: r.generationId,
    status: r.status,
    authType: r.authType,
    primaryKey: r.primaryKey,
    secondaryKey: r.secondaryKey,
    primaryThumbprint: r.primaryThumbprint,
    secondaryThumbprint: r.secondaryThumbprint,
  };
}
