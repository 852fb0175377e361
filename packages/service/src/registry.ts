/** The device registry over REST, as azure-iothub's Registry calls it (official-sdk-wire.md D.2). */
import { FerryError } from '@ferry/common';
import type { HttpsTarget, RetryPolicy, TokenSource } from '@ferry/common/client';
import { pages, type RestReply, restCall } from './rest.js';

export type DeviceStatus = 'enabled' | 'disabled';

/** A device as the registry returns it. */
export interface Device {
  deviceId: string;
  generationId: string;
  etag: string;
  status: DeviceStatus;
  statusReason: string | null;
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime: string;
  statusUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: {
    type: 'sas' | 'selfSigned' | 'certificateAuthority' | 'none';
    symmetricKey: { primaryKey: string | null; secondaryKey: string | null };
    x509Thumbprint: { primaryThumbprint: string | null; secondaryThumbprint: string | null };
  };
  capabilities: { iotEdge: boolean };
}

/** What create and update take: the id, and optionally status and keys (empty keys: the hub makes them). */
export interface DeviceDescription {
  deviceId: string;
  status?: DeviceStatus;
  statusReason?: string;
  authentication?: { type?: 'sas'; symmetricKey?: { primaryKey?: string; secondaryKey?: string } };
}

export interface RegistryStatistics {
  totalDeviceCount: number;
  enabledDeviceCount: number;
  disabledDeviceCount: number;
}

export class RegistryClient {
  constructor(
    private readonly target: HttpsTarget,
    private readonly tokens: TokenSource,
    private readonly retry: RetryPolicy,
  ) {}

  private async json<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    return (await this.call<T>(method, path, body, headers)).value;
  }

  private call<T>(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<RestReply<T>> {
    return restCall<T>(this.target, this.tokens, this.retry, { method, path, body, headers });
  }

  private static path(deviceId: string): string {
    if (typeof deviceId !== 'string' || deviceId === '')
      throw new FerryError('ArgumentNull', 'A device id is required');
    return `/devices/${encodeURIComponent(deviceId)}`;
  }

  private static body(d: DeviceDescription): object {
    return {
      deviceId: d.deviceId,
      status: d.status ?? 'enabled',
      ...(d.statusReason !== undefined ? { statusReason: d.statusReason } : {}),
      authentication: {
        type: 'sas',
        symmetricKey: {
          primaryKey: d.authentication?.symmetricKey?.primaryKey ?? '',
          secondaryKey: d.authentication?.symmetricKey?.secondaryKey ?? '',
        },
      },
    };
  }

  /** Registers a device (keys made by the hub unless given). DeviceAlreadyExists when the id is taken. */
  create(device: DeviceDescription | string): Promise<Device> {
    const d = typeof device === 'string' ? { deviceId: device } : device;
    return this.json('PUT', RegistryClient.path(d.deviceId), RegistryClient.body(d));
  }

  /** DeviceNotFound when there is no such device. */
  get(deviceId: string): Promise<Device> {
    return this.json('GET', RegistryClient.path(deviceId));
  }

  /** Every device (IoT Hub returns up to 1000 per call; `top` asks for fewer). */
  list(options: { top?: number } = {}): Promise<Device[]> {
    return this.json('GET', options.top === undefined ? '/devices/' : `/devices/?top=${options.top}`);
  }

  /** Replaces status and keys (If-Match "*"; empty keys keep the current ones). */
  update(device: DeviceDescription): Promise<Device> {
    return this.json('PUT', RegistryClient.path(device.deviceId), RegistryClient.body(device), { 'if-match': '"*"' });
  }

  /** Deletes the device and its queue. DeviceNotFound when there is no such device. */
  async delete(deviceId: string): Promise<void> {
    await this.json('DELETE', RegistryClient.path(deviceId), undefined, { 'if-match': '"*"' });
  }

  /** Device counts. */
  statistics(): Promise<RegistryStatistics> {
    return this.json('GET', '/statistics/devices');
  }

  /** The device's twin (tags, desired and reported properties, registry fields). */
  getTwin(deviceId: string): Promise<Twin> {
    return this.json('GET', RegistryClient.twinPath(deviceId));
  }

  /**
   * Merges tags and desired properties into the twin (`null` deletes a property). With `etag`,
   * the update is refused with PreconditionFailed when the twin changed since it was read.
   */
  updateTwin(deviceId: string, patch: TwinPatch, etag = '*'): Promise<Twin> {
    return this.json('PATCH', RegistryClient.twinPath(deviceId), patch, { 'if-match': `"${etag}"` });
  }

  /** Replaces tags and desired properties (a part left out becomes empty). */
  replaceTwin(deviceId: string, twin: TwinPatch, etag = '*'): Promise<Twin> {
    return this.json('PUT', RegistryClient.twinPath(deviceId), twin, { 'if-match': `"${etag}"` });
  }

  /**
   * Runs an IoT Hub query (`SELECT * FROM devices WHERE tags.site = 'a'`, or COUNT() ... GROUP
   * BY), page by page: twins for SELECT *, plain objects for projections and counts.
   */
  query(sql: string, options: { pageSize?: number } = {}): AsyncGenerator<unknown[]> {
    return pages(
      (headers) => this.call<unknown[]>('POST', '/devices/query', { query: sql }, headers),
      options.pageSize,
    );
  }

  private static twinPath(deviceId: string): string {
    if (typeof deviceId !== 'string' || deviceId === '')
      throw new FerryError('ArgumentNull', 'A device id is required');
    return `/twins/${encodeURIComponent(deviceId)}`;
  }
}

/** A JSON object inside a twin. */
export type TwinProperties = { [name: string]: unknown };

/** What updateTwin and replaceTwin take. */
export interface TwinPatch {
  tags?: TwinProperties;
  properties?: { desired?: TwinProperties };
}

/** A device twin as the hub returns it (docs/twins.md). */
export interface Twin {
  deviceId: string;
  etag: string;
  version: number;
  status: DeviceStatus;
  connectionState: 'Connected' | 'Disconnected';
  lastActivityTime: string;
  authenticationType: string;
  cloudToDeviceMessageCount: number;
  tags: TwinProperties;
  properties: {
    desired: TwinProperties & { $version: number; $metadata: TwinProperties };
    reported: TwinProperties & { $version: number; $metadata: TwinProperties };
  };
}
