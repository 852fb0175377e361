/**
 * The twins domain: read and write device twins as the service (tags, desired; merge or replace,
 * with If-Match) and as the device (read, patch reported), tell a device's connections when its
 * desired properties change, and run queries. Protocol-free: the gateways map their wire to it.
 *
 * Every write is read, change, compare-and-swap on the twin version: a write that lost a race is
 * applied again to what won (unconditional) or refused with PreconditionFailed (If-Match).
 */
import { FerryError } from '@ferry/common';
import type { Clock } from '../clock.js';
import type { ClusterEvents } from '../cluster/signal-bus.js';
import { checkPatch, checkSize } from './document-rules.js';
import { isJsonObject, type JsonObject } from './json.js';
import { mergeValues, patchSection, replaceSection } from './merge.js';
import type { Condition } from './query/ast.js';
import { parseQuery } from './query/parse.js';
import { type QueryPage, runQuery } from './query/run.js';
import { defaultTwin, deviceTwinJson, type Presence, type TwinJson, toTwinJson, twinEtag } from './twin-json.js';
import type { StoredTwin, TwinEntry, TwinStore } from './types.js';

/** How many times a write is applied again after losing a race before it gives up (ServerBusy). */
const WRITE_ATTEMPTS = 8;

export interface TwinsOptions {
  store: TwinStore;
  clock: Clock;
  /** Connection state and last activity, hub-wide. */
  presence(deviceId: string): Promise<Presence>;
  /** The device's pending C2D messages (cloudToDeviceMessageCount). */
  c2dCount(deviceId: string): Promise<number>;
  signals: Pick<ClusterEvents, 'notifyTwin' | 'onTwin'>;
}

export type ServiceUpdate = 'patch' | 'replace';

/** What a device is sent when its desired properties changed: the patch, with its $version. */
export interface DesiredChange {
  version: number;
  patch: JsonObject;
}

function notFound(deviceId: string): FerryError {
  return new FerryError('DeviceNotFound', `Device ${deviceId} not found`);
}

/** A quoted or bare etag, '*' for any. */
function parseIfMatch(ifMatch: string | undefined): string | undefined {
  if (ifMatch === undefined) return undefined;
  let t = ifMatch.trim();
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) t = t.slice(1, -1);
  return t === '' || t === '*' ? undefined : t;
}

export class Twins {
  constructor(private readonly opts: TwinsOptions) {}

  /** The service's view: GET /twins/{id}. */
  async get(deviceId: string): Promise<TwinJson> {
    return this.json(await this.read(deviceId));
  }

  /**
   * PATCH (merge tags and desired) or PUT (replace tags and desired) from the service, with an
   * optional If-Match etag ('*' or absent: unconditional).
   */
  async update(deviceId: string, body: unknown, mode: ServiceUpdate, ifMatch?: string): Promise<TwinJson> {
    const changes = serviceChanges(body, mode);
    const etag = parseIfMatch(ifMatch);
    const entry = await this.write(deviceId, (twin, at) => {
      if (etag !== undefined && etag !== twinEtag(twin.version)) {
        throw new FerryError('PreconditionFailed', `The If-Match etag does not match the twin of device ${deviceId}`);
      }
      const tags = changes.tags === CLEAR ? deleteAll(twin.tags) : changes.tags;
      const desired = changes.desired === CLEAR ? deleteAll(twin.desired.values) : changes.desired;
      const next: StoredTwin = { ...twin, version: twin.version + 1 };
      if (tags !== undefined) next.tags = mode === 'patch' ? mergeValues(twin.tags, tags) : tags;
      if (desired !== undefined) {
        next.desired =
          mode === 'patch'
            ? patchSection(twin.desired, desired, at, true)
            : replaceSection(twin.desired, desired, at, true);
        next.lastDesiredPatch = mode === 'patch' ? desired : null;
      }
      checkSize('tags', next.tags);
      checkSize('desired', next.desired.values);
      return next;
    });
    if (changes.desired !== undefined) this.opts.signals.notifyTwin(deviceId);
    return this.json(entry);
  }

  /** The device's view: desired and reported with their $version (twin GET over MQTT and AMQP). */
  async getForDevice(deviceId: string): Promise<{ desired: JsonObject; reported: JsonObject }> {
    const entry = await this.read(deviceId);
    return deviceTwinJson(entry.twin!);
  }

  /** A device's reported-properties patch; resolves with the new reported $version. */
  async updateReported(deviceId: string, body: unknown): Promise<number> {
    const patch = checkPatch('reported', body, true);
    const entry = await this.write(deviceId, (twin, at) => {
      const reported = patchSection(twin.reported, patch, at, false);
      checkSize('reported', reported.values);
      return { ...twin, version: twin.version + 1, reported };
    });
    return entry.twin!.reported.version;
  }

  /**
   * What to send a device whose connection last sent it desired version `since`: the last patch
   * when it is the next version, else the whole desired section (a replace, or versions missed);
   * undefined when nothing is newer.
   */
  async desiredSince(deviceId: string, since: number): Promise<DesiredChange | undefined> {
    const entry = await this.opts.store.getTwin(deviceId);
    const twin = entry?.twin;
    if (!twin || twin.desired.version <= since) return undefined;
    const { version } = twin.desired;
    const patch = version === since + 1 && twin.lastDesiredPatch ? twin.lastDesiredPatch : twin.desired.values;
    return { version, patch: { ...patch, $version: version } };
  }

  /** Calls `fn` when the device's twin may have changed (any node); returns the unsubscribe function. */
  onChange(deviceId: string, fn: () => void): () => void {
    return this.opts.signals.onTwin(deviceId, fn);
  }

  /** POST /devices/query: a page of results and the continuation token of the next page. */
  query(text: string, pageSize: number, continuation: string | undefined): Promise<QueryPage> {
    const now = this.opts.clock.now();
    return runQuery(this.opts.store, text, pageSize, continuation, now, (entry) => this.jsonOf(entry));
  }

  /**
   * The ids of the devices a WHERE clause selects (jobs), ordered by id, after `afterDeviceId`, at
   * most `limit`. ArgumentInvalid for a condition the query language refuses.
   */
  async selectDevices(condition: string, afterDeviceId: string, limit: number): Promise<string[]> {
    const where = conditionOf(condition);
    const entries = await this.opts.store.queryTwins({ where, afterDeviceId, limit, now: this.opts.clock.now() });
    return entries.map((e) => e.device.deviceId);
  }

  /** Throws ArgumentInvalid when the WHERE clause is not one selectDevices takes. */
  checkCondition(condition: string): void {
    conditionOf(condition);
  }

  private async read(deviceId: string): Promise<TwinEntry & { twin: StoredTwin }> {
    const entry = await this.opts.store.getTwin(deviceId);
    if (!entry) throw notFound(deviceId);
    return { device: entry.device, twin: entry.twin ?? defaultTwin(deviceId, entry.device.statusUpdatedTime) };
  }

  private async write(
    deviceId: string,
    change: (twin: StoredTwin, at: string) => StoredTwin,
  ): Promise<TwinEntry & { twin: StoredTwin }> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const entry = await this.opts.store.getTwin(deviceId);
      if (!entry) throw notFound(deviceId);
      const at = new Date(this.opts.clock.now()).toISOString();
      const current = entry.twin ?? defaultTwin(deviceId, at);
      const next = change(current, at);
      const result = await this.opts.store.writeTwin(next, entry.twin ? entry.twin.version : null);
      if (result === 'written') return { device: entry.device, twin: next };
      if (result === 'deviceNotFound') throw notFound(deviceId);
    }
    throw new FerryError('ThrottlingException', `The twin of device ${deviceId} is being written too often; retry`);
  }

  private async json(entry: TwinEntry & { twin: StoredTwin }): Promise<TwinJson> {
    const { deviceId } = entry.device;
    const [presence, c2dCount] = await Promise.all([this.opts.presence(deviceId), this.opts.c2dCount(deviceId)]);
    return toTwinJson(entry.device, entry.twin, presence, c2dCount);
  }

  private jsonOf(entry: TwinEntry): Promise<TwinJson> {
    return this.json({
      device: entry.device,
      twin: entry.twin ?? defaultTwin(entry.device.deviceId, entry.device.statusUpdatedTime),
    });
  }
}

/** A patch's `"tags": null` or `"desired": null`: every property of the section is deleted. */
const CLEAR = Symbol('clear');

/** The patch that deletes every property `values` has (what a device is sent when all go). */
function deleteAll(values: JsonObject): JsonObject {
  return Object.fromEntries(Object.keys(values).map((name) => [name, null]));
}

interface ServiceChanges {
  tags?: JsonObject | typeof CLEAR;
  desired?: JsonObject | typeof CLEAR;
}

/** The tags and desired properties a service update carries (each undefined when absent). */
function serviceChanges(body: unknown, mode: ServiceUpdate): ServiceChanges {
  if (!isJsonObject(body)) throw new FerryError('ArgumentInvalid', 'the twin update must be a JSON object');
  const merge = mode === 'patch';
  const out: ServiceChanges = {};
  if (body.tags !== undefined && body.tags !== null) out.tags = checkPatch('tags', withoutDollar(body.tags), merge);
  else if (!merge) out.tags = {};
  else if (body.tags === null) out.tags = CLEAR;
  const props = body.properties;
  if (props !== undefined && props !== null) {
    if (!isJsonObject(props)) throw new FerryError('ArgumentInvalid', 'properties must be a JSON object');
    if (props.reported !== undefined) {
      throw new FerryError('ArgumentInvalid', 'reported properties are written by the device, not the service');
    }
    if (props.desired !== undefined && props.desired !== null) {
      out.desired = checkPatch('desired', withoutDollar(props.desired), merge);
    } else if (props.desired === null && merge) out.desired = CLEAR;
  }
  if (!merge && out.desired === undefined) out.desired = {};
  return out;
}

/** A WHERE clause alone, parsed as the query language's (no GROUP BY or anything after it). */
function conditionOf(condition: string): Condition {
  const query = parseQuery(`SELECT * FROM devices WHERE ${condition}`);
  if (query.where === null || query.groupBy.length > 0)
    throw new FerryError('ArgumentInvalid', 'queryCondition must be a WHERE clause alone');
  return query.where;
}

/** $version and $metadata come back in what a client read and sends again; they are not properties. */
function withoutDollar(v: unknown): unknown {
  if (!isJsonObject(v)) return v;
  const { $version: _v, $metadata: _m, ...rest } = v;
  return rest;
}
