/**
 * What a data directory holds besides TLS material: the SQLite database, and hub.json, where a
 * running hub tells the CLI its hosts and ports. Keys never go into hub.json: they live in the store.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FerryError, formatHubConnectionString } from '@ferry/common';
import type { HubConfig } from './config/types.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import type { Store } from './store/types.js';
import { writeAtomic } from './tls/files.js';

export interface HubInfo {
  hosts: string[];
  bind: string;
  ports: { https: number; mqtts: number; amqps: number };
  caFile: string | undefined;
  pid: number;
  startedAt: string;
}

export const DB_FILE = 'ferry.db';
export const HUB_INFO_FILE = 'hub.json';

export function ensureDataDir(dataDir: string): string {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function sqlitePath(config: Pick<HubConfig, 'dataDir' | 'store'>): string {
  const configured = config.store.kind === 'sqlite' ? config.store.path : undefined;
  return resolve(configured ?? join(config.dataDir, DB_FILE));
}

export function writeHubInfo(dataDir: string, info: HubInfo): void {
  writeAtomic(join(resolve(dataDir), HUB_INFO_FILE), `${JSON.stringify(info, null, 2)}\n`, 0o644);
}

export function readHubInfo(dataDir: string): HubInfo | undefined {
  const file = join(resolve(dataDir), HUB_INFO_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HubInfo;
  } catch (cause) {
    throw new FerryError('ArgumentInvalid', `${file} is not valid JSON; delete it and start the hub again`, { cause });
  }
}

function noHub(dataDir: string): FerryError {
  return new FerryError(
    'IotHubNotFound',
    `no hub in ${resolve(dataDir)} yet: start one first with \`npx ferry hub start --data-dir ${dataDir}\``,
  );
}

/**
 * A policy's connection string, read from the store of a hub that has started at least once
 * (running or not). HostName is the first host the hub was last started with, unless given.
 */
export async function readPolicyConnectionString(opts: {
  config: Pick<HubConfig, 'dataDir' | 'store' | 'hosts'>;
  policy: string;
  host?: string;
}): Promise<string> {
  const { config } = opts;
  let store: Store;
  if (config.store.kind === 'postgres') {
    // Loaded only here: a SQLite hub never needs the PostgreSQL driver (docs/memory.md).
    const { PostgresStore } = await import('./store/postgres/postgres-store.js');
    store = await PostgresStore.open({ url: config.store.url, schema: config.store.schema, poolSize: 1 });
  } else {
    const dbFile = sqlitePath(config);
    if (!existsSync(dbFile)) throw noHub(config.dataDir);
    store = new SqliteStore({ path: dbFile, checkpointThread: false });
  }
  try {
    const policies = await store.getPolicies();
    if (policies.length === 0) throw noHub(config.dataDir);
    const policy = policies.find((p) => p.keyName === opts.policy);
    if (!policy) {
      throw new FerryError(
        'ArgumentInvalid',
        `no shared access policy named ${opts.policy}; this hub has ${policies.map((p) => p.keyName).join(', ')}`,
      );
    }
    const host = opts.host ?? readHubInfo(config.dataDir)?.hosts[0] ?? config.hosts[0]!;
    return formatHubConnectionString({
      hostName: host,
      sharedAccessKeyName: policy.keyName,
      sharedAccessKey: policy.primaryKey,
    });
  } finally {
    await store.close();
  }
}
