/**
 * The twins domain's store contract: one twin document per device, read and written whole with a
 * compare-and-swap on the twin version, and the devices whose twin matches a query condition.
 * Both adapters (SQLite, PostgreSQL) pass test/twin-store-contract.ts.
 */
import type { DeviceRecord } from '../store/types.js';
import type { JsonObject } from './json.js';
import type { Condition } from './query/ast.js';

/**
 * Per-property metadata, mirroring the section's tree: `$lastUpdated` (ISO 8601) on every node,
 * `$lastUpdatedVersion` (the section's $version then) on desired nodes only.
 */
export interface MetaNode {
  $lastUpdated: string;
  $lastUpdatedVersion?: number;
  [child: string]: MetaNode | string | number | undefined;
}

export interface TwinSection {
  /** The properties, without $version or $metadata. */
  values: JsonObject;
  meta: MetaNode;
  /** `$version` of the section: +1 per update of it. */
  version: number;
}

export interface StoredTwin {
  deviceId: string;
  /** The twin's version: +1 per update of tags, desired or reported (its etag is made from it). */
  version: number;
  tags: JsonObject;
  desired: TwinSection;
  reported: TwinSection;
  /** The patch that made desired.version (null when desired was replaced or never patched): what a device is sent. */
  lastDesiredPatch: JsonObject | null;
}

/** A device and its twin; twin undefined while nothing was ever written to it (the default twin). */
export interface TwinEntry {
  device: DeviceRecord;
  twin: StoredTwin | undefined;
  /** Connected hub-wide, as the store's presence records say (queries read it; answers use the domain's presence). */
  connected?: boolean;
  /** Last activity hub-wide (ms since the epoch) as the store's presence records say; undefined: never. */
  lastActivityAt?: number;
  /** The device's queued C2D messages; read only when the page query asked (withC2dCount). */
  c2dCount?: number;
}

export type TwinWriteResult = 'written' | 'conflict' | 'deviceNotFound';

export interface TwinPageQuery {
  /** null: every device. */
  where: Condition | null;
  /** Only devices with an id greater than this one (the previous page's last). */
  afterDeviceId?: string;
  limit: number;
  /** ms since the epoch: a C2D message expired by then is not queued (cloudToDeviceMessageCount). */
  now: number;
  /** Count each device's queued C2D messages into TwinEntry.c2dCount (a query that projects or groups by them). */
  withC2dCount?: boolean;
}

export interface TwinStore {
  /** The device and its stored twin; undefined when the device does not exist. */
  getTwin(deviceId: string): Promise<TwinEntry | undefined>;
  /**
   * Writes the twin when the stored one has version `expectedVersion` (null: none is stored yet,
   * and the device exists). 'conflict' when another write came first.
   */
  writeTwin(twin: StoredTwin, expectedVersion: number | null): Promise<TwinWriteResult>;
  /** Devices matching the condition, ordered by device id (byte order), at most `limit`. */
  queryTwins(query: TwinPageQuery): Promise<TwinEntry[]>;
}
