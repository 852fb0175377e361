/**
 * The device registry: identities in Azure's JSON shape over a RegistryStore, the shared access
 * policies (created with fresh keys on first start, then cached), and the live connection state
 * the gateways report. cloudToDeviceMessageCount is read from the engine on every read.
 */
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { C2dEngine } from '../engine/types.js';
import type { DeviceRecord, InspectionStore, RegistryStore } from '../store/types.js';
import { type LiveState, NEVER, newEtag, newGenerationId, toDeviceJson } from './device-json.js';
import { generateKey, newDefaultPolicies, toSharedAccessPolicy } from './policies.js';
import type {
  DeviceChangeListener,
  DeviceIdentity,
  DeviceJson,
  DevicePage,
  Registry,
  SharedAccessPolicy,
} from './types.js';
import { type DeviceInput, normalizeEtag, parseDeviceBody, validateDeviceId } from './validation.js';

export const MAX_LIST_TOP = 1000;
// An unconditional update retries when a concurrent write changed the row between read and write.
const UNCONDITIONAL_RETRIES = 3;

export type DeviceRegistryStore = RegistryStore & Pick<InspectionStore, 'listDevicePage'>;

export interface DeviceRegistryOptions {
  store: DeviceRegistryStore;
  engine: Pick<C2dEngine, 'queueDepth'>;
  clock: Clock;
  /** Where a failing device-change listener is reported. */
  logger?: Logger;
}

function notFound(deviceId: string): FerryError {
  return new FerryError('DeviceNotFound', `Device ${deviceId} not found`);
}

function preconditionFailed(deviceId: string): FerryError {
  return new FerryError('PreconditionFailed', `The If-Match etag does not match device ${deviceId}`);
}

/** Keys and thumbprints for the chosen auth type; empty keys are kept from `previous` or generated. */
function credentials(
  input: DeviceInput,
  type: DeviceRecord['authType'],
  previous: DeviceRecord | undefined,
): Pick<DeviceRecord, 'primaryKey' | 'secondaryKey' | 'primaryThumbprint' | 'secondaryThumbprint'> {
  if (type === 'sas') {
    return {
      primaryKey: input.primaryKey ?? previous?.primaryKey ?? generateKey(),
      secondaryKey: input.secondaryKey ?? previous?.secondaryKey ?? generateKey(),
      primaryThumbprint: null,
      secondaryThumbprint: null,
    };
  }
  if (type === 'selfSigned') {
    const primaryThumbprint = input.primaryThumbprint ?? previous?.primaryThumbprint ?? null;
    if (!primaryThumbprint) {
      throw new FerryError('ArgumentInvalid', 'authentication type selfSigned needs x509Thumbprint.primaryThumbprint');
    }
    const secondaryThumbprint = input.secondaryThumbprint ?? previous?.secondaryThumbprint ?? null;
    return { primaryKey: null, secondaryKey: null, primaryThumbprint, secondaryThumbprint };
  }
  return { primaryKey: null, secondaryKey: null, primaryThumbprint: null, secondaryThumbprint: null };
}

function toIdentity(r: DeviceRecord): DeviceIdentity {
  return {
    deviceId: r.deviceId,
    generationId: r.generationId,
    status: r.status,
    primaryKey: r.primaryKey,
    secondaryKey: r.secondaryKey,
  };
}

export class DeviceRegistry implements Registry {
  private readonly store: DeviceRegistryStore;
  private readonly engine: Pick<C2dEngine, 'queueDepth'>;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly changeListeners = new Set<DeviceChangeListener>();
  private readonly live = new Map<string, LiveState>();
  private policyList: readonly SharedAccessPolicy[] = [];
  private policyByName = new Map<string, SharedAccessPolicy>();

  constructor(opts: DeviceRegistryOptions) {
    this.store = opts.store;
    this.engine = opts.engine;
    this.clock = opts.clock;
    this.logger = opts.logger;
  }

  /** Creates the default policies that do not exist yet (with new keys), then caches all policies. */
  async init(): Promise<void> {
    const existing = new Set((await this.store.getPolicies()).map((p) => p.keyName));
    const missing = newDefaultPolicies().filter((p) => !existing.has(p.keyName));
    if (missing.length > 0) await this.store.ensurePolicies(missing);
    const all = (await this.store.getPolicies()).map(toSharedAccessPolicy);
    this.policyList = Object.freeze(all);
    this.policyByName = new Map(all.map((p) => [p.keyName, p]));
  }

  policies(): readonly SharedAccessPolicy[] {
    return this.policyList;
  }

  policy(keyName: string): SharedAccessPolicy | undefined {
    return this.policyByName.get(keyName);
  }

  async create(body: unknown): Promise<DeviceJson> {
    const input = parseDeviceBody(body);
    if (input.deviceId === undefined) throw new FerryError('ArgumentInvalid', 'deviceId is required');
    const authType = input.authType ?? 'sas';
    const record: DeviceRecord = {
      deviceId: input.deviceId,
      generationId: newGenerationId(this.clock.now()),
      etag: newEtag(),
      status: input.status ?? 'enabled',
      statusReason: input.statusReason ?? null,
      statusUpdatedTime: NEVER,
      authType,
      ...credentials(input, authType, undefined),
      iotEdge: input.iotEdge ?? false,
    };
    if (!(await this.store.insertDevice(record))) {
      throw new FerryError('DeviceAlreadyExists', `A device with id ${record.deviceId} already exists`);
    }
    this.live.delete(record.deviceId);
    return this.json(record);
  }

  async update(deviceId: string, body: unknown, ifMatch: string): Promise<DeviceJson> {
    validateDeviceId(deviceId);
    const input = parseDeviceBody(body);
    if (input.deviceId !== undefined && input.deviceId !== deviceId) {
      throw new FerryError('ArgumentInvalid', `deviceId ${input.deviceId} in the body differs from ${deviceId}`);
    }
    const wanted = normalizeEtag(ifMatch);
    for (let attempt = 0; ; attempt++) {
      const existing = await this.store.getDevice(deviceId);
      if (!existing) throw notFound(deviceId);
      if (wanted !== '*' && wanted !== existing.etag) throw preconditionFailed(deviceId);
      const authType = input.authType ?? existing.authType;
      const status = input.status ?? existing.status;
      const record: DeviceRecord = {
        ...existing,
        etag: newEtag(),
        status,
        statusReason: input.statusReason === undefined ? existing.statusReason : input.statusReason,
        statusUpdatedTime:
          status === existing.status ? existing.statusUpdatedTime : new Date(this.clock.now()).toISOString(),
        authType,
        ...credentials(input, authType, existing),
        iotEdge: input.iotEdge ?? existing.iotEdge,
      };
      if (await this.store.replaceDevice(record, existing.etag)) {
        this.changed(deviceId, toIdentity(record));
        return this.json(record);
      }
      // The row changed or vanished between our read and write: re-read to say which.
      if (wanted !== '*' || attempt + 1 >= UNCONDITIONAL_RETRIES) {
        if (!(await this.store.getDevice(deviceId))) throw notFound(deviceId);
        throw preconditionFailed(deviceId);
      }
    }
  }

  async get(deviceId: string): Promise<DeviceJson> {
    const record = await this.store.getDevice(deviceId);
    if (!record) throw notFound(deviceId);
    return this.json(record);
  }

  async list(top?: number): Promise<DeviceJson[]> {
    const limit = top !== undefined && Number.isInteger(top) && top >= 1 && top <= MAX_LIST_TOP ? top : MAX_LIST_TOP;
    const records = await this.store.listDevices(limit);
    return Promise.all(records.map((r) => this.json(r)));
  }

  async page(query: { top: number; after?: string; contains?: string }): Promise<DevicePage> {
    const top = Number.isInteger(query.top) && query.top >= 1 && query.top <= MAX_LIST_TOP ? query.top : MAX_LIST_TOP;
    // One more than asked tells whether another page follows.
    const records = await this.store.listDevicePage({
      limit: top + 1,
      afterDeviceId: query.after,
      idContains: query.contains || undefined,
    });
    const more = records.length > top;
    const devices = await Promise.all(records.slice(0, top).map((r) => this.json(r)));
    return { devices, next: more ? devices[devices.length - 1]?.deviceId : undefined };
  }

  async delete(deviceId: string, ifMatch?: string): Promise<void> {
    const wanted = ifMatch === undefined ? '*' : normalizeEtag(ifMatch);
    const existing = await this.store.getDevice(deviceId);
    if (!existing) throw notFound(deviceId);
    if (wanted !== '*' && wanted !== existing.etag) throw preconditionFailed(deviceId);
    if (!(await this.store.deleteDevice(deviceId, wanted === '*' ? undefined : wanted))) {
      if (!(await this.store.getDevice(deviceId))) throw notFound(deviceId);
      throw preconditionFailed(deviceId);
    }
    this.live.delete(deviceId);
    this.changed(deviceId, undefined);
  }

  async statistics(): Promise<{ totalDeviceCount: number; enabledDeviceCount: number; disabledDeviceCount: number }> {
    const c = await this.store.countDevices();
    return { totalDeviceCount: c.total, enabledDeviceCount: c.enabled, disabledDeviceCount: c.disabled };
  }

  async identity(deviceId: string): Promise<DeviceIdentity | undefined> {
    const r = await this.store.getDevice(deviceId);
    return r && toIdentity(r);
  }

  onDeviceChange(listener: DeviceChangeListener): () => void {
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const entry: DeviceChangeListener = (id, identity) => listener(id, identity);
    this.changeListeners.add(entry);
    return () => void this.changeListeners.delete(entry);
  }

  /** The write is committed: a listener's failure must not turn it into an error for the caller. */
  private changed(deviceId: string, identity: DeviceIdentity | undefined): void {
    for (const listener of [...this.changeListeners]) {
      try {
        listener(deviceId, identity);
      } catch (err) {
        this.logger?.error({ err, deviceId }, 'a device-change listener failed');
      }
    }
  }

  setConnectionState(deviceId: string, state: 'Connected' | 'Disconnected'): void {
    const now = this.clock.now();
    const cur = this.live.get(deviceId);
    if (cur?.connectionState === state) return;
    this.live.set(deviceId, {
      connectionState: state,
      connectionStateUpdatedTime: now,
      // Connecting is activity; disconnecting is not.
      lastActivityTime: state === 'Connected' ? now : cur?.lastActivityTime,
    });
  }

  touch(deviceId: string): void {
    const cur = this.live.get(deviceId);
    const now = this.clock.now();
    if (cur) cur.lastActivityTime = now;
    else
      this.live.set(deviceId, {
        connectionState: 'Disconnected',
        connectionStateUpdatedTime: undefined,
        lastActivityTime: now,
      });
  }

  private async json(record: DeviceRecord): Promise<DeviceJson> {
    return toDeviceJson(record, this.live.get(record.deviceId), await this.engine.queueDepth(record.deviceId));
  }
}
