/**
 * The device registry: identities in Azure's JSON shape over a RegistryStore, the shared access
 * policies (created with fresh keys on first start, then cached), and the live connection state
 * the gateways report. cloudToDeviceMessageCount is read from the engine on every read.
 */
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { PresenceBook } from '../cluster/presence-book.js';
import type { ClusterEvents } from '../cluster/signal-bus.js';
import type { C2dEngine } from '../engine/types.js';
import type { DeviceRecord, InspectionStore, RegistryStore } from '../store/types.js';
import { type BulkResult, bulkEntries, entryId, planBulk } from './bulk.js';
import { type LiveState, toDeviceJson } from './device-json.js';
import { newDeviceRecord, toIdentity, updatedDeviceRecord } from './device-records.js';
import { newDefaultPolicies, toSharedAccessPolicy } from './policies.js';
import type {
  DeviceChangeListener,
  DeviceIdentity,
  DeviceJson,
  DevicePage,
  Registry,
  SharedAccessPolicy,
} from './types.js';
import { normalizeEtag, parseDeviceBody, validateDeviceId } from './validation.js';

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
  /** Several nodes: changes made here are published, and changes made elsewhere reach this node's listeners. */
  cluster?: Pick<ClusterEvents, 'publishDeviceChange' | 'onRemoteDeviceChange'>;
  /** Hub-wide presence (cluster/presence-book.ts): this node's connects, disconnects and activity go there, and get() reads it. */
  presence?: Pick<PresenceBook, 'nodeId' | 'connect' | 'disconnect' | 'activity' | 'lookup'>;
}

function notFound(deviceId: string): FerryError {
  return new FerryError('DeviceNotFound', `Device ${deviceId} not found`);
}

function preconditionFailed(deviceId: string): FerryError {
  return new FerryError('PreconditionFailed', `The If-Match etag does not match device ${deviceId}`);
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
  private readonly cluster: DeviceRegistryOptions['cluster'];
  private readonly presenceBook: DeviceRegistryOptions['presence'];

  constructor(opts: DeviceRegistryOptions) {
    this.store = opts.store;
    this.engine = opts.engine;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.cluster = opts.cluster;
    this.presenceBook = opts.presence;
    this.cluster?.onRemoteDeviceChange((deviceId) => void this.changedElsewhere(deviceId));
  }

  /**
   * Another node wrote the device (its signal, or the change sequence after missed signals):
   * re-read it, then tell this node's listeners as for a local change.
   */
  async changedElsewhere(deviceId: string): Promise<void> {
    let record: DeviceRecord | undefined;
    try {
      record = await this.store.getDevice(deviceId);
    } catch (err) {
      this.logger?.error({ err, deviceId }, 'could not re-read a device changed on another node');
      return;
    }
    if (!record) this.live.delete(deviceId);
    this.tellListeners(deviceId, record && toIdentity(record));
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
    const record = newDeviceRecord({ ...input, deviceId: input.deviceId }, this.clock.now());
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
      const record = updatedDeviceRecord(existing, input, this.clock.now());
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

  async bulk(body: unknown): Promise<BulkResult> {
    const entries = bulkEntries(body);
    const stored = new Map<string, DeviceRecord>();
    for (const id of new Set(entries.map(entryId))) {
      const record = id === '' ? undefined : await this.store.getDevice(id);
      if (record) stored.set(id, record);
    }
    const { writes, errors } = planBulk(entries, stored, this.clock.now());
    const results = await this.store.writeDevices(writes.map((w) => w.write));
    writes.forEach((w, i) => {
      if (!results[i]) {
        errors.push(w.failure);
        return;
      }
      if (w.write.kind !== 'replace') this.live.delete(w.deviceId);
      // As after single-device writes: updated and deleted devices reach the gateways.
      if (w.write.kind !== 'insert') this.changed(w.deviceId, w.record && toIdentity(w.record));
    });
    return { isSuccessful: errors.length === 0, errors, warnings: [] };
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

  private changed(deviceId: string, identity: DeviceIdentity | undefined): void {
    this.tellListeners(deviceId, identity);
    this.cluster?.publishDeviceChange(deviceId);
  }

  /** The write is committed: a listener's failure must not turn it into an error for the caller. */
  private tellListeners(deviceId: string, identity: DeviceIdentity | undefined): void {
    for (const listener of [...this.changeListeners]) {
      try {
        listener(deviceId, identity);
      } catch (err) {
        this.logger?.error({ err, deviceId }, 'a device-change listener failed');
      }
    }
  }

  /** The device's connection hub-wide (twins show it). */
  async presence(
    deviceId: string,
  ): Promise<{ connectionState: 'Connected' | 'Disconnected'; lastActivityTime: number | undefined }> {
    const live = await this.liveOf(deviceId);
    return { connectionState: live?.connectionState ?? 'Disconnected', lastActivityTime: live?.lastActivityTime };
  }

  /**
   * The connection state is hub-wide (issue 28): this node's when it holds the device, else the
   * store's. Another node's record is that node's word; this node's own may lag its memory (writes batch).
   */
  private async liveOf(deviceId: string): Promise<LiveState | undefined> {
    const local = this.live.get(deviceId);
    if (local?.connectionState === 'Connected' || !this.presenceBook) return local;
    const shared = await this.presenceBook.lookup(deviceId);
    return shared && (shared.nodeId !== this.presenceBook.nodeId || !local) ? shared : local;
  }

  /** The devices connected to this node. */
  connectedDevices(): string[] {
    return [...this.live].filter(([, l]) => l.connectionState === 'Connected').map(([id]) => id);
  }

  setConnectionState(deviceId: string, state: 'Connected' | 'Disconnected'): void {
    const now = this.clock.now();
    const cur = this.live.get(deviceId);
    if (cur?.connectionState === state) return;
    if (state === 'Connected') this.presenceBook?.connect(deviceId, now);
    else this.presenceBook?.disconnect(deviceId, now);
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
    this.presenceBook?.activity(deviceId, now);
    if (cur) cur.lastActivityTime = now;
    else
      this.live.set(deviceId, {
        connectionState: 'Disconnected',
        connectionStateUpdatedTime: undefined,
        lastActivityTime: now,
      });
  }

  private async json(record: DeviceRecord): Promise<DeviceJson> {
    const [live, c2dCount] = await Promise.all([this.liveOf(record.deviceId), this.engine.queueDepth(record.deviceId)]);
    return toDeviceJson(record, live, c2dCount);
  }
}
