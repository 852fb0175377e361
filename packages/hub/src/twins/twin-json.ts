/** A stored twin in IoT Hub's JSON shapes: the service's Twin (REST, queries) and the device's view. */
import type { DeviceRecord } from '../store/types.js';
import type { JsonObject } from './json.js';
import { emptySection } from './merge.js';
import type { StoredTwin, TwinSection } from './types.js';

/** .NET's DateTime.MinValue, which IoT Hub shows for "never". */
const NEVER = '0001-01-01T00:00:00Z';

/** A twin's lastActivityTime: ISO 8601, NEVER when there was none (queries project the same text). */
export function activityTimeJson(ms: number | undefined): string {
  return ms === undefined ? NEVER : new Date(ms).toISOString();
}

/** What the hub knows of a device's connection (not stored: each node knows its own connections). */
export interface Presence {
  connectionState: 'Connected' | 'Disconnected';
  /** ms since the epoch; undefined = never */
  lastActivityTime: number | undefined;
}

/** The twin a device has before anything was written to it. */
export function defaultTwin(deviceId: string, at: string): StoredTwin {
  return {
    deviceId,
    version: 1,
    tags: {},
    desired: emptySection(at, true),
    reported: emptySection(at, false),
    lastDesiredPatch: null,
  };
}

/** IoT Hub's twin etags are base64 of an 8-byte number ("AAAAAAAAAAE=" is version 1). */
export function twinEtag(version: number): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(version));
  return b.toString('base64');
}

export function sectionJson(s: TwinSection, withMetadata: boolean): JsonObject {
  const out: JsonObject = { ...s.values };
  if (withMetadata) out.$metadata = s.meta as unknown as JsonObject;
  out.$version = s.version;
  return out;
}

export interface TwinJson {
  deviceId: string;
  etag: string;
  deviceEtag: string;
  status: DeviceRecord['status'];
  statusReason: string | null;
  statusUpdateTime: string;
  connectionState: Presence['connectionState'];
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authenticationType: DeviceRecord['authType'];
  x509Thumbprint: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
  capabilities: { iotEdge: boolean };
  version: number;
  tags: JsonObject;
  properties: { desired: JsonObject; reported: JsonObject };
}

export function toTwinJson(device: DeviceRecord, twin: StoredTwin, presence: Presence, c2dCount: number): TwinJson {
  return {
    deviceId: device.deviceId,
    etag: twinEtag(twin.version),
    deviceEtag: device.etag,
    status: device.status,
    statusReason: device.statusReason,
    statusUpdateTime: device.statusUpdatedTime,
    connectionState: presence.connectionState,
    lastActivityTime: activityTimeJson(presence.lastActivityTime),
    cloudToDeviceMessageCount: c2dCount,
    authenticationType: device.authType,
    x509Thumbprint: { primaryThumbprint: device.primaryThumbprint, secondaryThumbprint: device.secondaryThumbprint },
    capabilities: { iotEdge: device.iotEdge },
    version: twin.version,
    tags: twin.tags,
    properties: { desired: sectionJson(twin.desired, true), reported: sectionJson(twin.reported, true) },
  };
}

/** What a device is given for a twin GET (MQTT, AMQP): desired and reported with their $version. */
export function deviceTwinJson(twin: StoredTwin): { desired: JsonObject; reported: JsonObject } {
  return { desired: sectionJson(twin.desired, false), reported: sectionJson(twin.reported, false) };
}
