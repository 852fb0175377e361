/** Device identities and shared access policies, in Azure's JSON shapes. */
import type { Permission } from '../auth/types.js';

export type DeviceStatus = 'enabled' | 'disabled';

/** Azure's Device JSON (swagger 2020-09-30), as returned by the registry REST API. */
export interface DeviceJson {
  deviceId: string;
  generationId: string;
  etag: string;
  connectionState: 'Connected' | 'Disconnected';
  status: DeviceStatus;
  statusReason: string | null;
  connectionStateUpdatedTime: string;
  statusUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: {
    symmetricKey: { primaryKey: string | null; secondaryKey: string | null };
    x509Thumbprint: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
    type: 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';
  };
  capabilities: { iotEdge: boolean };
}

/** What the auth and gateway code needs of a device. */
export interface DeviceIdentity {
  deviceId: string;
  generationId: string;
  status: DeviceStatus;
  primaryKey: string | null;
  secondaryKey: string | null;
}

export interface SharedAccessPolicy {
  keyName: string;
  primaryKey: string;
  secondaryKey: string;
  rights: readonly Permission[];
}

export interface Registry {
  /** Validates the id and body, generates keys when empty. 409 DeviceAlreadyExists. */
  create(body: unknown): Promise<DeviceJson>;
  /** ifMatch '*' or an etag (quoted or not). 404 DeviceNotFound, 412 PreconditionFailed. */
  update(deviceId: string, body: unknown, ifMatch: string): Promise<DeviceJson>;
  get(deviceId: string): Promise<DeviceJson>;
  list(top?: number): Promise<DeviceJson[]>;
  /**
   * One page of devices ordered by id (Ferry's paging of GET /devices): `next` is the id the next
   * page starts after, undefined on the last page. `contains` filters ids, case-insensitively.
   */
  page(query: { top: number; after?: string; contains?: string }): Promise<DevicePage>;
  /** Removes the identity and its C2D queue. ifMatch as for update; undefined = unconditional. */
  delete(deviceId: string, ifMatch?: string): Promise<void>;
  statistics(): Promise<{ totalDeviceCount: number; enabledDeviceCount: number; disabledDeviceCount: number }>;
  /** Fast lookup for auth and sends; undefined when unknown. */
  identity(deviceId: string): Promise<DeviceIdentity | undefined>;
  policies(): readonly SharedAccessPolicy[];
  policy(keyName: string): SharedAccessPolicy | undefined;
  /** Gateways report connection state and activity here (connectionState, lastActivityTime). */
  setConnectionState(deviceId: string, state: 'Connected' | 'Disconnected'): void;
  touch(deviceId: string): void;
  /**
   * Called after every committed update (with the new identity: status or keys may have changed)
   * and after a committed delete (undefined), so the gateways can cut off a device that may no
   * longer connect. Listeners run synchronously and must not throw. Returns the unsubscribe.
   */
  onDeviceChange(listener: DeviceChangeListener): () => void;
}

export interface DevicePage {
  devices: DeviceJson[];
  next: string | undefined;
}

export type DeviceChangeListener = (deviceId: string, identity: DeviceIdentity | undefined) => void;
