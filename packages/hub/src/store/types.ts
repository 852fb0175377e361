/**
 * The Store: whole domain operations over batches, shaped by C2D semantics, not by SQL.
 * Adapters: sqlite/ (better-sqlite3 12.x) now, postgres/ (pg) later; both must pass
 * test/store-contract. No transaction handle ever crosses an await.
 */

/** A device identity row, as the registry keeps it. */
export interface DeviceRecord {
  deviceId: string;
  generationId: string;
  etag: string;
  status: 'enabled' | 'disabled';
  statusReason: string | null;
  /** ISO 8601 */
  statusUpdatedTime: string;
  authType: 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';
  primaryKey: string | null;
  secondaryKey: string | null;
  primaryThumbprint: string | null;
  secondaryThumbprint: string | null;
  iotEdge: boolean;
}

export interface PolicyRecord {
  keyName: string;
  primaryKey: string;
  secondaryKey: string;
  /** e.g. ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] */
  rights: string[];
}

/** A persistent MQTT session (clean session 0). */
export interface MqttSessionRecord {
  deviceId: string;
  /** Granted QoS of the C2D subscription, or null when not subscribed. */
  c2dQos: 0 | 1 | null;
}

export interface RegistryStore {
  /** Insert; resolves false when the id already exists. */
  insertDevice(device: DeviceRecord): Promise<boolean>;
  /** Replace when the stored etag equals expectedEtag (or unconditionally when undefined); false when missing or mismatched. */
  replaceDevice(device: DeviceRecord, expectedEtag?: string): Promise<boolean>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(limit: number): Promise<DeviceRecord[]>;
  /** Deletes the device, its C2D queue, its MQTT session and its pending (not yet batched) feedback. */
  deleteDevice(deviceId: string, expectedEtag?: string): Promise<boolean>;
  countDevices(): Promise<{ total: number; enabled: number; disabled: number }>;
  getPolicies(): Promise<PolicyRecord[]>;
  /** Inserts the policies that do not exist yet (first start). */
  ensurePolicies(policies: PolicyRecord[]): Promise<void>;
  getMqttSession(deviceId: string): Promise<MqttSessionRecord | undefined>;
  putMqttSession(session: MqttSessionRecord): Promise<void>;
  deleteMqttSession(deviceId: string): Promise<void>;
}

// The C2D part of the Store (QueueStore) is defined by the engine's author in this file,
// and `Store` = RegistryStore & QueueStore & { close(): Promise<void> }.
