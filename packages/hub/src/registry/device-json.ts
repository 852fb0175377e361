/** Turning a stored DeviceRecord plus live state into Azure's Device JSON, and the generated ids. */
import { randomInt } from 'node:crypto';
import type { DeviceRecord } from '../store/types.js';
import type { DeviceJson } from './types.js';

/** .NET's DateTime.MinValue, which real hubs return for "never". */
export const NEVER = '0001-01-01T00:00:00Z';

/** What the registry keeps in memory per device (not persisted: Azure calls it best-effort too). */
export interface LiveState {
  connectionState: 'Connected' | 'Disconnected';
  /** ms since the epoch, undefined = never */
  connectionStateUpdatedTime: number | undefined;
  lastActivityTime: number | undefined;
}

// ms between 0001-01-01 and 1970-01-01.
const EPOCH_OFFSET_MS = 62_135_596_800_000n;

/**
 * 18 digits like Azure's (e.g. 636146743722094236): .NET ticks (100 ns since year 1) of now,
 * the sub-millisecond digits random so a device deleted and re-created at once still differs.
 */
export function newGenerationId(nowMs: number): string {
  const ticks = (BigInt(Math.trunc(nowMs)) + EPOCH_OFFSET_MS) * 10_000n + BigInt(randomInt(10_000));
  return ticks.toString();
}

/** Azure's etags are base64 of a decimal number ("MQ==" is "1"). A random one changes on every write. */
export function newEtag(): string {
  return Buffer.from(String(randomInt(1, 2 ** 47))).toString('base64');
}

function iso(ms: number | undefined): string {
  return ms === undefined ? NEVER : new Date(ms).toISOString();
}

export function toDeviceJson(r: DeviceRecord, live: LiveState | undefined, c2dCount: number): DeviceJson {
  return {
    deviceId: r.deviceId,
    generationId: r.generationId,
    etag: r.etag,
    connectionState: live?.connectionState ?? 'Disconnected',
    status: r.status,
    statusReason: r.statusReason,
    connectionStateUpdatedTime: iso(live?.connectionStateUpdatedTime),
    statusUpdatedTime: r.statusUpdatedTime,
    lastActivityTime: iso(live?.lastActivityTime),
    cloudToDeviceMessageCount: c2dCount,
    authentication: {
      symmetricKey: { primaryKey: r.primaryKey, secondaryKey: r.secondaryKey },
      x509Thumbprint: { primaryThumbprint: r.primaryThumbprint, secondaryThumbprint: r.secondaryThumbprint },
      type: r.authType,
    },
    capabilities: { iotEdge: r.iotEdge },
  };
}
