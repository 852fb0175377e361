/**
 * The twins table as both SQL adapters read it: same columns, one mapping. SQLite gives the JSON
 * columns as text, node-postgres gives jsonb parsed and bigints as strings.
 */
import type { JsonObject } from '../twins/json.js';
import type { MetaNode, StoredTwin, TwinEntry } from '../twins/types.js';
import { DEVICE_COLUMNS, type DeviceRow, deviceRecordOf } from './rows.js';

export const TWIN_COLUMNS = `version, tags, desired, desired_meta, desired_version, reported, reported_meta,
  reported_version, last_desired_patch`;

/** Devices (alias d) LEFT JOIN twins (alias t), twin columns prefixed, and the presence's flag and last activity. */
export const ENTRY_COLUMNS = `${DEVICE_COLUMNS.split(',')
  .map((c) => `d.${c.trim()}`)
  .join(', ')}, t.device_id AS twin_device_id, ${TWIN_COLUMNS.split(',')
  .map((c) => `t.${c.trim()}`)
  .join(', ')}, p.connected AS presence_connected, p.activity_at AS presence_activity_at`;

/** Every twin read: devices, their twin, and their hub-wide presence (alias p). */
export const ENTRY_FROM = `FROM devices d LEFT JOIN twins t ON t.device_id = d.device_id
  LEFT JOIN device_presence p ON p.device_id = d.device_id`;

export interface TwinColumns {
  version: number | string;
  tags: string | JsonObject;
  desired: string | JsonObject;
  desired_meta: string | MetaNode;
  desired_version: number | string;
  reported: string | JsonObject;
  reported_meta: string | MetaNode;
  reported_version: number | string;
  last_desired_patch: string | JsonObject | null;
}

export type EntryRow = DeviceRow & {
  twin_device_id: string | null;
  presence_connected: boolean | number | null;
  presence_activity_at: number | string | null;
  /** Only in a page read withC2dCount (c2dCountSql in twins/query/sql.ts). */
  c2d_count?: number | string;
} & {
  [K in keyof TwinColumns]: TwinColumns[K] | null;
};

function json<T>(v: string | T): T {
  return typeof v === 'string' ? (JSON.parse(v) as T) : v;
}

export function twinOf(deviceId: string, r: TwinColumns): StoredTwin {
  return {
    deviceId,
    version: Number(r.version),
    tags: json(r.tags),
    desired: { values: json(r.desired), meta: json(r.desired_meta), version: Number(r.desired_version) },
    reported: { values: json(r.reported), meta: json(r.reported_meta), version: Number(r.reported_version) },
    lastDesiredPatch: r.last_desired_patch === null ? null : json(r.last_desired_patch),
  };
}

export function entryOf(r: EntryRow): TwinEntry {
  const device = deviceRecordOf(r);
  return {
    device,
    twin: r.twin_device_id === null ? undefined : twinOf(device.deviceId, r as TwinColumns),
    connected: Boolean(r.presence_connected),
    lastActivityAt: r.presence_activity_at === null ? undefined : Number(r.presence_activity_at),
    ...(r.c2d_count === undefined ? {} : { c2dCount: Number(r.c2d_count) }),
  };
}

/** The twin's columns after device_id, in TWIN_COLUMNS order, JSON as text. */
export function twinValues(t: StoredTwin): unknown[] {
  return [
    t.version,
    JSON.stringify(t.tags),
    JSON.stringify(t.desired.values),
    JSON.stringify(t.desired.meta),
    t.desired.version,
    JSON.stringify(t.reported.values),
    JSON.stringify(t.reported.meta),
    t.reported.version,
    t.lastDesiredPatch === null ? null : JSON.stringify(t.lastDesiredPatch),
  ];
}
