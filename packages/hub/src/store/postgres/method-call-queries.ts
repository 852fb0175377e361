/**
 * Direct method calls on their way between nodes (migration 9, cluster/postgres-method-relay.ts).
 * A row holds one call from the node that took the HTTP request (origin) until it took the answer
 * back: the holder of the device's connection claims it, and writes the answer into it. UNLOGGED:
 * a call lives as long as its HTTP request (nothing here must survive a crash) and a write costs
 * no WAL. The payloads (up to 128 KB each way) live here because NOTIFY carries 8000 bytes at
 * most; each NOTIFY only names the row, and is sent in the statement that wrote it, so it is heard
 * after the row is visible.
 */
import type pg from 'pg';

export const METHOD_CALLS_SQL = `
CREATE UNLOGGED TABLE method_calls (
  id text PRIMARY KEY,
  device_id text NOT NULL,
  origin_node text NOT NULL,
  method_name text NOT NULL,
  payload text NOT NULL,
  response_timeout_ms integer NOT NULL,
  claim_by timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  holder_node text,
  answered boolean NOT NULL DEFAULT false,
  status integer,
  answer text,
  error_name text,
  error_message text
);
CREATE INDEX method_calls_waiting ON method_calls (device_id) WHERE holder_node IS NULL;
CREATE INDEX method_calls_expiry ON method_calls (expires_at);
`;

export interface ClaimedCall {
  id: string;
  deviceId: string;
  originNode: string;
  methodName: string;
  payloadJson: string;
  responseTimeoutMs: number;
}

export interface NewMethodCall extends ClaimedCall {
  /** How long a holder may claim it (ms from now). */
  claimWithinMs: number;
  /** When the row is garbage whatever happened to its origin (ms from now). */
  expiresInMs: number;
}

/** The holder's answer: the device's status and JSON, or the error the call failed with there. */
export type CallAnswer = { status: number; payloadJson: string } | { errorName: string; errorMessage: string };

/** A NOTIFY to send in the statement that writes a row: channel and payload. */
export interface Notice {
  channel: string;
  payload: string;
}

const CLAIMED = `RETURNING id, device_id, origin_node, method_name, payload, response_timeout_ms`;

interface ClaimedRow {
  id: string;
  device_id: string;
  origin_node: string;
  method_name: string;
  payload: string;
  response_timeout_ms: number;
}

export class MethodCallQueries {
  /** The pool of the hub's schema (its search_path). */
  constructor(private readonly pool: pg.Pool) {}

  /** Inserts a call and, once it is committed, NOTIFYs that it waits. */
  async insert(c: NewMethodCall, notice: Notice): Promise<void> {
    await this.pool.query(
      `WITH c AS (
         INSERT INTO method_calls (id, device_id, origin_node, method_name, payload, response_timeout_ms, claim_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 millisecond', now() + $8 * interval '1 millisecond')
         RETURNING id)
       SELECT pg_notify($9, $10) FROM c`,
      [
        c.id,
        c.deviceId,
        c.originNode,
        c.methodName,
        c.payloadJson,
        c.responseTimeoutMs,
        c.claimWithinMs,
        c.expiresInMs,
        notice.channel,
        notice.payload,
      ],
    );
  }

  /** Claims one call for this node's connection; undefined when another node has it, or its time to be claimed is over. */
  async claim(id: string, node: string): Promise<ClaimedCall | undefined> {
    const r = await this.pool.query<ClaimedRow>(
      `UPDATE method_calls SET holder_node = $2 WHERE id = $1 AND holder_node IS NULL AND claim_by > now() ${CLAIMED}`,
      [id, node],
    );
    return r.rows.map(claimedOf)[0];
  }

  /** Claims every call waiting for the device (its connection just attached on this node). */
  async claimWaiting(deviceIds: readonly string[], node: string): Promise<ClaimedCall[]> {
    const r = await this.pool.query<ClaimedRow>(
      `UPDATE method_calls SET holder_node = $2
       WHERE device_id = ANY($1) AND holder_node IS NULL AND claim_by > now() ${CLAIMED}`,
      [deviceIds, node],
    );
    return r.rows.map(claimedOf);
  }

  /** Writes the holder's answer and NOTIFYs the origin; the notice's payload is completed with the origin and the id. */
  async answer(id: string, node: string, a: CallAnswer, notice: Notice): Promise<string | undefined> {
    const ok = 'status' in a;
    const r = await this.pool.query<{ origin_node: string }>(
      `WITH u AS (
         UPDATE method_calls SET answered = true, status = $3, answer = $4, error_name = $5, error_message = $6
         WHERE id = $1 AND holder_node = $2 RETURNING origin_node)
       SELECT origin_node, pg_notify($7, $8 || origin_node || '|' || $1) FROM u`,
      [
        id,
        node,
        ok ? a.status : null,
        ok ? a.payloadJson : null,
        ok ? null : a.errorName,
        ok ? null : a.errorMessage,
        notice.channel,
        notice.payload,
      ],
    );
    return r.rows[0]?.origin_node;
  }

  /** Takes (deletes) an answered call; undefined while it is not answered. */
  async take(id: string): Promise<CallAnswer | undefined> {
    const r = await this.pool.query<{
      status: number | null;
      answer: string | null;
      error_name: string | null;
      error_message: string | null;
    }>('DELETE FROM method_calls WHERE id = $1 AND answered RETURNING status, answer, error_name, error_message', [id]);
    const row = r.rows[0];
    if (!row) return undefined;
    if (row.error_name !== null) return { errorName: row.error_name, errorMessage: row.error_message ?? '' };
    return { status: row.status ?? 0, payloadJson: row.answer ?? 'null' };
  }

  /** Deletes a call nobody claimed; false when a holder has it. */
  async withdraw(id: string): Promise<boolean> {
    const r = await this.pool.query('DELETE FROM method_calls WHERE id = $1 AND holder_node IS NULL', [id]);
    return (r.rowCount ?? 0) > 0;
  }

  async drop(id: string): Promise<void> {
    await this.pool.query('DELETE FROM method_calls WHERE id = $1', [id]);
  }

  /** Deletes the calls whose origin can no longer be waiting (crashed, or lost the answer). */
  async prune(): Promise<number> {
    const r = await this.pool.query('DELETE FROM method_calls WHERE expires_at < now()');
    return r.rowCount ?? 0;
  }
}

function claimedOf(r: ClaimedRow): ClaimedCall {
  return {
    id: r.id,
    deviceId: r.device_id,
    originNode: r.origin_node,
    methodName: r.method_name,
    payloadJson: r.payload,
    responseTimeoutMs: r.response_timeout_ms,
  };
}
