/**
 * Device twins as the console uses them: read (GET /twins/{id}), update tags and desired
 * properties (PATCH with If-Match), and the pure pieces the twin tab needs: the JSON merge patch
 * from what was loaded to what was edited, and properties listed with their $metadata.
 */
import type { HubApi } from './api.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Twin {
  deviceId: string;
  etag: string;
  version: number;
  status?: string;
  connectionState?: string;
  tags?: JsonObject;
  properties: { desired: JsonObject; reported: JsonObject };
}

export function getTwin(api: HubApi, id: string): Promise<Twin> {
  return api.json('GET', `/twins/${encodeURIComponent(id)}`);
}

/** Merges `patch` into the twin if its etag is still `etag`; refused 412 PreconditionFailed otherwise. */
export function patchTwin(api: HubApi, id: string, patch: JsonObject, etag: string): Promise<Twin> {
  return api.json('PATCH', `/twins/${encodeURIComponent(id)}`, {
    headers: { 'content-type': 'application/json; charset=utf-8', 'if-match': `"${etag}"` },
    body: JSON.stringify(patch),
  });
}

export interface QueryPage {
  items: JsonObject[];
  /** 'Twin' for SELECT *, 'Raw' for projections and counts */
  itemType: string;
  next: string | undefined;
}

export async function queryDevices(api: HubApi, query: string, pageSize: number, continuation?: string) {
  const res = await api.call('POST', '/devices/query', {
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-ms-max-item-count': String(pageSize),
      ...(continuation ? { 'x-ms-continuation': continuation } : {}),
    },
    body: JSON.stringify({ query }),
  });
  const page: QueryPage = {
    items: (await res.json()) as JsonObject[],
    itemType: res.headers.get('x-ms-item-type') ?? 'Raw',
    next: res.headers.get('x-ms-continuation') ?? undefined,
  };
  return page;
}

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A section without the hub's `$version` and `$metadata`: what a user edits. */
export function editable(section: JsonObject | undefined): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(section ?? {})) if (!k.startsWith('$')) out[k] = v;
  return out;
}

/**
 * The JSON merge patch (RFC 7386) that turns `before` into `after`: changed values, `null` for
 * what was removed, objects patched key by key. Undefined when nothing changed.
 */
export function mergePatch(before: JsonObject, after: JsonObject): JsonObject | undefined {
  const patch: JsonObject = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (isObject(old) && isObject(value)) {
      const inner = mergePatch(old, value);
      if (inner) patch[key] = inner;
    } else if (old === undefined || JSON.stringify(old) !== JSON.stringify(value)) patch[key] = value;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

export interface PropertyRow {
  /** dotted path, e.g. `fw.version` */
  path: string;
  value: Json;
  /** ISO 8601, from $metadata */
  lastUpdated?: string;
  /** desired only: the $version that last set it */
  lastUpdatedVersion?: number;
}

/** Every leaf (a value that is not an object) of a properties section, with its $metadata, in path order. */
export function propertyRows(section: JsonObject | undefined): PropertyRow[] {
  const rows: PropertyRow[] = [];
  const walk = (node: JsonObject, meta: Json | undefined, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith('$')) continue;
      const path = prefix ? `${prefix}.${key}` : key;
      const m = isObject(meta) ? meta[key] : undefined;
      if (isObject(value) && Object.keys(value).length > 0) {
        walk(value, m, path);
        continue;
      }
      const row: PropertyRow = { path, value };
      if (isObject(m) && typeof m.$lastUpdated === 'string') row.lastUpdated = m.$lastUpdated;
      if (isObject(m) && typeof m.$lastUpdatedVersion === 'number') row.lastUpdatedVersion = m.$lastUpdatedVersion;
      rows.push(row);
    }
  };
  if (section) walk(section, section.$metadata, '');
  return rows.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `Syntax error at line 1, position 41: ...` -> { line: 1, column: 41 }. */
export function errorPosition(message: string): { line: number; column: number } | undefined {
  const m = /line (\d+), position (\d+)/.exec(message);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : undefined;
}
