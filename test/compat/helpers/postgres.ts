/**
 * The real PostgreSQL of the multi-node tests (127.0.0.1:5432, database test, or FERRY_TEST_PG_URL):
 * a schema per test file, dropped when the file's tests pass, kept when one fails.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';

export const PG_URL = process.env.FERRY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A store option for startHub: every hub given the same one is a node of one hub. */
export function clusterStore(tag: string): { url: string; schema: string } {
  return { url: PG_URL, schema: `ferry_${tag}_${process.pid}_${Date.now().toString(36)}` };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** `pg_ctlcluster <version> main restart`: the server goes away and comes back. */
export async function restartPostgres(): Promise<void> {
  const version = readdirSync('/etc/postgresql')[0];
  if (!version) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  await promisify(execFile)('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart']);
}

/** The same device connection string, pointed at another node. */
export function atNode(cs: string, address: string): string {
  return cs.replace(/HostName=[^;]+/, `HostName=${address}`);
}
