/** Database calls whose lost connection becomes IoT Hub's ServerError (issue 9). */
import { FerryError } from '@ferry/common';
import pg from 'pg';

/**
 * A lost or refused database connection (no SQLSTATE at all: a socket error, a terminated or
 * timed-out connection; or class 08, or 57P: the server shut down or is starting) is answered as
 * IoT Hub answers an internal failure: ServerError (HTTP 500, amqp:internal-error), issue 9. Real
 * storage faults the server reports (class 53 disk full, 58 I/O) pass through unchanged, so the
 * hub's storage health check answers them ServerBusy like SQLite's.
 */
export function connectionLost(err: unknown): FerryError | undefined {
  if (err instanceof FerryError) return undefined;
  const code = err instanceof pg.DatabaseError ? (err.code ?? '') : undefined;
  if (code !== undefined && !/^(08|57P)/.test(code)) return undefined;
  const what = err instanceof Error ? err.message : String(err);
  return new FerryError('ServerError', `the PostgreSQL connection failed: ${what}`, { cause: err });
}

/** Runs one database call; a lost connection becomes ServerError (see connectionLost). */
export async function guarded<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw connectionLost(err) ?? err;
  }
}
