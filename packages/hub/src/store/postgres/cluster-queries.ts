/** The ClusterStore on PostgreSQL (store/cluster-sql.ts): nodes' heartbeats and device presence, migration 12. */
import type pg from 'pg';
import {
  CLUSTER_SQL,
  type NodeRow,
  nodeParams,
  numbered,
  type PresenceRow,
  presenceParams,
  toNodeRecord,
  toPresenceRecord,
} from '../cluster-sql.js';
import type { NodeRecord, NodeRelease, PresenceRecord, PresenceWrite } from '../types.js';

export class ClusterQueries {
  constructor(private readonly pool: pg.Pool) {}

  /** Writes the node's row; answers whether another node has one (live, or silent but not yet released). */
  async heartbeat(node: NodeRecord): Promise<boolean> {
    await this.pool.query({
      name: 'ferry_node_heartbeat',
      text: numbered(CLUSTER_SQL.heartbeat),
      values: nodeParams(node),
    });
    const r = await this.pool.query<{ others: boolean }>({
      name: 'ferry_other_nodes',
      text: 'SELECT EXISTS (SELECT 1 FROM hub_nodes WHERE node_id <> $1) AS others',
      values: [node.nodeId],
    });
    return r.rows[0]!.others;
  }

  async listNodes(): Promise<NodeRecord[]> {
    const r = await this.pool.query<NodeRow>(CLUSTER_SQL.listNodes);
    return r.rows.map(toNodeRecord);
  }

  /**
   * One statement: whichever nodes run it at once, each dead node is released once. Its parts see
   * one snapshot, so the locks (CLUSTER_SQL.releaseLocks) are those of devices still Connected there.
   * Then, only when a node went (rarely), the locks of the devices that moved from it.
   */
  async release(now: number, { timeoutMs, lockTimeoutMs, nodeId }: NodeRelease): Promise<string[]> {
    const r = await this.pool.query<{ node_id: string }>(
      `WITH gone AS (DELETE FROM hub_nodes WHERE heartbeat_at <= $1 OR node_id = $2 RETURNING node_id),
        locks AS (UPDATE c2d_messages SET locked_until = $3 WHERE lock_token IS NOT NULL AND locked_until > $3
          AND device_id IN (SELECT device_id FROM device_presence
            WHERE connected AND node_id IN (SELECT node_id FROM gone))),
        off AS (UPDATE device_presence SET connected = false, state_at = $3
          WHERE connected AND node_id IN (SELECT node_id FROM gone))
      SELECT node_id FROM gone ORDER BY node_id`,
      [now - timeoutMs, nodeId ?? null, now],
    );
    const gone = r.rows.map((row) => row.node_id);
    // Whoever deleted a node's row releases its moved devices' locks; one crashing before this
    // leaves them to their lock timeout, as before the move was recorded.
    for (const id of gone)
      await this.pool.query(numbered(CLUSTER_SQL.releaseMovedLocks), [now, now, id, lockTimeoutMs]);
    return gone;
  }

  /** All writes in one transaction, in order (they are few: connects, disconnects, activity now and then). */
  async write(writes: readonly PresenceWrite[]): Promise<void> {
    if (writes.length === 0) return;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      for (const w of writes) {
        const { sql, params } = presenceParams(w);
        await client.query({ name: `ferry_presence_${w.kind}`, text: numbered(sql), values: params });
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async get(deviceId: string): Promise<PresenceRecord | undefined> {
    const r = await this.pool.query<PresenceRow>(numbered(CLUSTER_SQL.getPresence), [deviceId]);
    return r.rows[0] && toPresenceRecord(r.rows[0]);
  }

  async countConnected(): Promise<number> {
    const r = await this.pool.query<{ n: string }>(CLUSTER_SQL.countConnected);
    return Number(r.rows[0]!.n);
  }
}
