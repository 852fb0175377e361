/**
 * The real PostgreSQL the tests use (127.0.0.1:5432, database test, or FERRY_TEST_PG_URL): one
 * schema per store, named after the run, dropped when the file's tests pass and kept when one fails
 * (to look at). When the server is down the tests fail and say how to start it; they never skip.
 */
import { after, afterEach } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';

export const PG_URL = process.env.FERRY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const RUN = `ferry_t${process.pid}_${Date.now().toString(36)}`;
let n = 0;
let failed = false;

/** A fresh schema name for this run. */
export function testSchema(): string {
  return `${RUN}_${n++}`;
}

export async function openTestStore(schema = testSchema()): Promise<PostgresStore> {
  try {
    return await PostgresStore.open({ url: PG_URL, schema, poolSize: 4 });
  } catch (err) {
    throw new Error(
      `PostgreSQL is needed for this test (${PG_URL}); start it with ` +
        '`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`',
      { cause: err },
    );
  }
}

/** Drops this run's schemas once every test of the file passed. */
export function dropSchemasWhenPassed(): void {
  afterEach((t) => {
    // node:test does not tell a hook whether its test passed; a failed one leaves this flag.
    if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
  });
  after(async () => {
    if (failed || process.exitCode) return;
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
        [`${RUN}\\_%`],
      );
      for (const r of rows) await client.query(`DROP SCHEMA "${r.nspname}" CASCADE`);
    } finally {
      await client.end();
    }
  });
}
