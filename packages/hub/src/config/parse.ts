/**
 * parseConfig: defaults < config file < environment < flags, then one validation step and a
 * frozen result. Unknown keys are refused by name with the nearest valid one suggested.
 */
import { isIP } from 'node:net';
import { ConfigError } from './config-error.js';
import { DEFAULT_CONFIG } from './defaults.js';
import { parseIsoDuration } from './duration.js';
import { deepFreeze } from './freeze.js';
import { ENV_TO_PATH, envName, GROUPS, LEAVES, type Leaf } from './schema.js';
import { closest, editDistance } from './suggest.js';
import type { HubConfig, StoreConfig } from './types.js';

export interface ConfigSources {
  /** The parsed JSON of a config file (same shape as HubConfig, any subset). */
  file?: object;
  /** Where `file` came from, for messages. */
  fileName?: string;
  /** FERRY_* variables; pass process.env explicitly (nothing is read behind the caller's back). */
  env?: NodeJS.ProcessEnv;
  /** Command-line values in HubConfig's shape; undefined entries are ignored. */
  flags?: object;
}

type Values = Map<string, unknown>;

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

function describeRange(leaf: { min: number; max: number }, duration: boolean): string {
  return duration ? `from ${leaf.min} to ${leaf.max} ms` : `from ${leaf.min} to ${leaf.max}`;
}

function show(value: unknown): string {
  const text = typeof value === 'string' ? `"${value}"` : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Turns one raw value into the leaf's type, or explains what is wrong with it. */
function coerce(path: string, leaf: Leaf, raw: unknown, fromEnv: boolean, where: string): unknown {
  const fail = (expected: string): never => {
    throw new ConfigError(path, `${path} must be ${expected}, got ${show(raw)} ${where}`);
  };
  switch (leaf.kind) {
    case 'int': {
      const n = fromEnv && typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < leaf.min || n > leaf.max) {
        fail(`a whole number ${describeRange(leaf, false)}`);
      }
      return n;
    }
    case 'duration': {
      let ms: unknown = raw;
      if (typeof raw === 'string') ms = /^\d+$/.test(raw.trim()) ? Number(raw) : parseIsoDuration(raw);
      if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < leaf.min || ms > leaf.max) {
        fail(`a duration ${describeRange(leaf, true)} (milliseconds, or ISO 8601 such as "PT1M")`);
      }
      return ms;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (fromEnv && typeof raw === 'string') {
        const t = raw.trim().toLowerCase();
        if (t === 'true' || t === '1') return true;
        if (t === 'false' || t === '0') return false;
      }
      return fail('true or false');
    }
    case 'enum': {
      const hit =
        typeof raw === 'string' ? leaf.values.find((v) => v.toLowerCase() === raw.trim().toLowerCase()) : undefined;
      return hit ?? fail(`one of ${leaf.values.map((v) => `"${v}"`).join(', ')}`);
    }
    case 'string':
      if (typeof raw !== 'string' || raw.trim() === '') fail('a non-empty string');
      return (raw as string).trim();
    case 'hosts': {
      const list = typeof raw === 'string' ? raw.split(',').map((h) => h.trim()) : raw;
      if (!Array.isArray(list) || list.length === 0) fail('a non-empty list of host names or IP addresses');
      const seen = new Set<string>();
      const out: string[] = [];
      for (const h of list as unknown[]) {
        if (typeof h !== 'string' || (!HOSTNAME.test(h) && isIP(h) === 0)) {
          throw new ConfigError(
            path,
            `${path}: ${show(h)} is not a DNS name or an IP address (write IPv6 without brackets) ${where}`,
          );
        }
        if (!seen.has(h.toLowerCase())) out.push(h);
        seen.add(h.toLowerCase());
      }
      return out;
    }
  }
}

function unknownKey(path: string, where: string): ConfigError {
  const guess = closest(path, [...Object.keys(LEAVES), ...GROUPS]);
  return new ConfigError(path, `unknown option ${path}${guess ? ` — did you mean ${guess}?` : ''} ${where}`);
}

/** Walks one layer (file or flags) into dotted-path values, refusing unknown keys. */
function readObject(raw: unknown, where: string, into: Values, prefix = ''): void {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(prefix || '(root)', `${prefix || 'the configuration'} must be an object ${where}`);
  }
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const path = prefix ? `${prefix}.${key}` : key;
    const leaf = LEAVES[path];
    if (leaf) into.set(path, coerce(path, leaf, value, false, where));
    else if (GROUPS.has(path)) readObject(value, where, into, path);
    else throw unknownKey(path, where);
  }
}

/**
 * FERRY_* variables. Other tools use FERRY_* names too (FERRY_CONNECTION_STRING), so an unknown
 * one is refused only when it is within two edits of a real one: then it is surely a typo.
 */
function readEnv(env: NodeJS.ProcessEnv, into: Values): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('FERRY_') || value === undefined) continue;
    const path = ENV_TO_PATH.get(name);
    if (path) {
      into.set(path, coerce(path, LEAVES[path]!, value, true, `(from environment variable ${name})`));
      continue;
    }
    const near = [...ENV_TO_PATH.keys()].find((known) => editDistance(name, known) <= 2);
    if (near) throw new ConfigError(name, `unknown environment variable ${name} — did you mean ${near}?`);
  }
}

function flatten(value: unknown, prefix: string, into: Values): void {
  if (LEAVES[prefix] || value === null || typeof value !== 'object' || Array.isArray(value)) {
    into.set(prefix, value);
    return;
  }
  for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, into);
}

function nest(values: Values): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [path, value] of values) {
    const parts = path.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      node[part] ??= {};
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]!] = Array.isArray(value) ? [...value] : value;
  }
  return root;
}

/** Rules that tie two options together. */
function crossCheck(values: Values): void {
  const get = (p: string) => values.get(p);
  if ((get('c2d.defaultTtlMs') as number) > (get('c2d.maxTtlMs') as number)) {
    throw new ConfigError(
      'c2d.defaultTtlMs',
      `c2d.defaultTtlMs (${get('c2d.defaultTtlMs')} ms) must not exceed c2d.maxTtlMs (${get('c2d.maxTtlMs')} ms)`,
    );
  }
  if ((get('tls.certFile') === undefined) !== (get('tls.keyFile') === undefined)) {
    const missing = get('tls.certFile') === undefined ? 'tls.certFile' : 'tls.keyFile';
    throw new ConfigError(missing, `tls.certFile and tls.keyFile go together: ${missing} is missing`);
  }
  if (get('tls.caFile') !== undefined && get('tls.certFile') === undefined) {
    throw new ConfigError('tls.caFile', 'tls.caFile is only used with tls.certFile and tls.keyFile');
  }
}

/**
 * store.url alone selects PostgreSQL (`ferry hub start --store-url URL`); options of the other
 * store kind are refused by name.
 */
function checkStore(values: Values, given: ReadonlySet<string>): void {
  const get = (p: string) => values.get(p);
  if (get('store.url') !== undefined && !given.has('store.kind')) values.set('store.kind', 'postgres');
  const kind = get('store.kind');
  if (kind === 'postgres') {
    const url = get('store.url') as string | undefined;
    if (url === undefined) {
      throw new ConfigError('store.url', `store.kind "postgres" needs store.url (or ${envName('store.url')})`);
    }
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new ConfigError('store.url', 'store.url must be a postgres:// URL (postgres://user:password@host:5432/db)');
    }
    const schema = get('store.schema') as string | undefined;
    if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,56}$/.test(schema)) {
      throw new ConfigError(
        'store.schema',
        'store.schema must be a lower-case SQL identifier of at most 57 characters',
      );
    }
    for (const p of ['store.path', 'store.synchronous', 'store.worker', 'store.pageCacheMb']) {
      if (given.has(p)) throw new ConfigError(p, `${p} is only used with store.kind "sqlite"`);
    }
  } else {
    for (const p of ['store.url', 'store.schema']) {
      if (given.has(p)) throw new ConfigError(p, `${p} is only used with store.kind "postgres"`);
    }
  }
}

function storeOf(values: Values): StoreConfig {
  if (values.get('store.kind') === 'postgres') {
    return {
      kind: 'postgres',
      url: values.get('store.url') as string,
      schema: (values.get('store.schema') as string) ?? 'ferry',
    };
  }
  const path = values.get('store.path') as string | undefined;
  const synchronous = values.get('store.synchronous') as 'FULL' | 'NORMAL';
  const pageCacheMb = values.get('store.pageCacheMb') as number | undefined;
  const sqlite = {
    kind: 'sqlite' as const,
    ...(path === undefined ? {} : { path }),
    synchronous,
    ...(pageCacheMb === undefined ? {} : { pageCacheMb }),
  };
  // store.worker: SQLite in a worker thread (WorkerStore); off unless asked.
  return values.get('store.worker') === true ? { ...sqlite, worker: true } : sqlite;
}

/**
 * Merge defaults < file < env < flags, validate once, freeze. Throws ConfigError (a FerryError
 * ArgumentInvalid) whose `key` names the offending option.
 */
export function parseConfig(sources: ConfigSources = {}): Readonly<HubConfig> {
  const values: Values = new Map();
  if (sources.file !== undefined) {
    readObject(sources.file, `(in config file${sources.fileName ? ` ${sources.fileName}` : ''})`, values);
  }
  if (sources.env) readEnv(sources.env, values);
  if (sources.flags !== undefined) readObject(sources.flags, '(from the command line)', values);
  const given = new Set(values.keys());
  const defaults: Values = new Map();
  flatten(DEFAULT_CONFIG, '', defaults);
  for (const [path, value] of defaults) if (!values.has(path)) values.set(path, value);
  crossCheck(values);
  checkStore(values, given);
  const store = storeOf(values);
  for (const p of [...values.keys()]) if (p.startsWith('store.')) values.delete(p);
  const config = nest(values) as unknown as HubConfig;
  config.store = store;
  config.tls ??= {};
  return deepFreeze(config);
}
