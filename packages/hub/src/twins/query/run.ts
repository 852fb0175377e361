/**
 * Running a query over a TwinStore: SELECT * pages through the devices the store's SQL selects
 * (ordered by id; the continuation token is the last id); a projection reads its fields from the
 * same pages; COUNT() with or without GROUP BY reads every matching device in batches and counts
 * in memory, then pages through the groups (the token is an offset).
 */
import { FerryError } from '@ferry/common';
import type { JsonObject, JsonValue } from '../json.js';
import type { TwinEntry, TwinPageQuery, TwinStore } from '../types.js';
import type { FieldRef, Query, SelectItem } from './ast.js';
import { fieldValue } from './evaluate.js';
import { resolveField } from './fields.js';
import { parseQuery } from './parse.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
const SCAN_BATCH = 1000;

export interface QueryPage {
  items: unknown[];
  /** 'Twin' for SELECT *, 'Raw' for projections and counts (IoT Hub's x-ms-item-type). */
  itemType: 'Twin' | 'Raw';
  continuation: string | undefined;
}

type Token = { after: string } | { offset: number };

function encodeToken(t: Token): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(s: string | undefined): Token | undefined {
  if (s === undefined || s === '') return undefined;
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Partial<{ after: unknown; offset: unknown }>;
    if (typeof t.after === 'string') return { after: t.after };
    if (typeof t.offset === 'number' && Number.isInteger(t.offset) && t.offset >= 0) return { offset: t.offset };
  } catch {
    // refused below
  }
  throw new FerryError('ArgumentInvalid', 'the x-ms-continuation token is not one this hub gave');
}

/**
 * True when the SELECT list or GROUP BY reads cloudToDeviceMessageCount: only then does the store
 * count each device's queue (a WHERE on it is counted in the SQL; SELECT * answers count per twin).
 */
function readsC2dCount(query: Query): boolean {
  const fields: FieldRef[] = [...query.groupBy];
  for (const item of query.select ?? []) if (item.kind === 'field') fields.push(item.field);
  return fields.some((f) => {
    const r = resolveField(f);
    return r.kind === 'column' && r.name === 'cloudToDeviceMessageCount';
  });
}

/** `now` (ms since the epoch) decides which C2D messages have expired (cloudToDeviceMessageCount). */
export async function runQuery(
  store: TwinStore,
  text: string,
  pageSize: number,
  continuation: string | undefined,
  now: number,
  toJson: (entry: TwinEntry) => Promise<unknown>,
): Promise<QueryPage> {
  const query = parseQuery(text);
  if (query.source !== 'devices') throw new FerryError('ArgumentInvalid', `queries FROM ${query.source} are not twins`);
  const size = Number.isInteger(pageSize) && pageSize > 0 ? Math.min(pageSize, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const token = decodeToken(continuation);
  const read = { now, withC2dCount: readsC2dCount(query) };
  if (query.select?.some((i) => i.kind === 'count')) return countPage(store, query, size, token, read);
  if (token && !('after' in token))
    throw new FerryError('ArgumentInvalid', 'the x-ms-continuation token is not for this query');
  const entries = await store.queryTwins({ where: query.where, afterDeviceId: token?.after, limit: size + 1, ...read });
  const more = entries.length > size;
  const page = more ? entries.slice(0, size) : entries;
  const next = more ? encodeToken({ after: page[page.length - 1]!.device.deviceId }) : undefined;
  if (query.select === null) {
    return { items: await Promise.all(page.map(toJson)), itemType: 'Twin', continuation: next };
  }
  const select = query.select;
  return { items: page.map((e) => project(select, e, undefined)), itemType: 'Raw', continuation: next };
}

/** A SELECT list's values for one device (count: the group's count); undefined fields are left out. */
function project(select: SelectItem[], entry: TwinEntry, count: number | undefined): JsonObject {
  const out: JsonObject = {};
  select.forEach((item, i) => {
    if (item.kind === 'count') {
      out[item.alias ?? `$${i + 1}`] = count ?? 0;
      return;
    }
    const v = fieldValue(entry, item.field);
    if (v !== undefined) out[item.alias ?? item.field.path[item.field.path.length - 1]!] = v;
  });
  return out;
}

async function countPage(
  store: TwinStore,
  query: Query,
  size: number,
  token: Token | undefined,
  read: Pick<TwinPageQuery, 'now' | 'withC2dCount'>,
): Promise<QueryPage> {
  if (token && !('offset' in token))
    throw new FerryError('ArgumentInvalid', 'the x-ms-continuation token is not for this query');
  const groups = new Map<string, { first: TwinEntry; count: number }>();
  let after: string | undefined;
  for (;;) {
    const batch = await store.queryTwins({ where: query.where, afterDeviceId: after, limit: SCAN_BATCH, ...read });
    for (const entry of batch) {
      const key = JSON.stringify(query.groupBy.map((f) => fieldValue(entry, f) ?? { undefined: true }));
      const g = groups.get(key);
      if (g) g.count++;
      else groups.set(key, { first: entry, count: 1 });
    }
    if (batch.length < SCAN_BATCH) break;
    after = batch[batch.length - 1]!.device.deviceId;
  }
  const select = query.select!;
  const rows: JsonValue[] =
    groups.size === 0 && query.groupBy.length === 0
      ? [countOnly(select)]
      : [...groups.values()].map((g) => project(select, g.first, g.count));
  const offset = token && 'offset' in token ? token.offset : 0;
  const items = rows.slice(offset, offset + size);
  const next = offset + size < rows.length ? encodeToken({ offset: offset + size }) : undefined;
  return { items, itemType: 'Raw', continuation: next };
}

/** SELECT COUNT() over no device at all: one row with 0. */
function countOnly(select: SelectItem[]): JsonObject {
  const out: JsonObject = {};
  select.forEach((item, i) => {
    if (item.kind === 'count') out[item.alias ?? `$${i + 1}`] = 0;
  });
  return out;
}
