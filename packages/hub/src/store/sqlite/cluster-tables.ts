/** The ClusterStore on SQLite (store/cluster-sql.ts): one process, the same records (migration 11). Synchronous. */
import type Database from 'better-sqlite3';
import {
  CLUSTER_SQL,
  type NodeRow,
  nodeParams,
  type PresenceRow,
  presenceParams,
  toNodeRecord,
  toPresenceRecord,
} from '../cluster-sql.js';
import type { NodeRecord, NodeRelease, PresenceRecord, PresenceWrite } from '../types.js';

export class ClusterTables {
  private readonly heartbeatStmt: Database.Statement;
  private readonly listStmt: Database.Statement<[], NodeRow>;
  private readonly getStmt: Database.Statement<[string], PresenceRow>;
  private readonly countStmt: Database.Statement<[], { n: number }>;
  private readonly dueStmt: Database.Statement<[number, string | null], { node_id: string }>;
  private readonly offStmt: Database.Statement<[number, string]>;
  private readonly removeStmt: Database.Statement<[string]>;
  private readonly locksStmt: Database.Statement<[number, number, string]>;
  private readonly movedLocksStmt: Database.Statement<[number, number, string, number]>;
  private readonly byKind = new Map<string, Database.Statement>();
  readonly write: (writes: readonly PresenceWrite[]) => void;
  readonly release: (now: number, release: NodeRelease) => string[];

  constructor(private readonly db: Database.Database) {
    this.heartbeatStmt = db.prepare(CLUSTER_SQL.heartbeat);
    this.listStmt = db.prepare(CLUSTER_SQL.listNodes);
    this.getStmt = db.prepare(CLUSTER_SQL.getPresence);
    this.countStmt = db.prepare(CLUSTER_SQL.countConnected);
    this.dueStmt = db.prepare('SELECT node_id FROM hub_nodes WHERE heartbeat_at <= ? OR node_id = ? ORDER BY node_id');
    this.offStmt = db.prepare(
      'UPDATE device_presence SET connected = FALSE, state_at = ? WHERE connected AND node_id = ?',
    );
    this.removeStmt = db.prepare('DELETE FROM hub_nodes WHERE node_id = ?');
    this.locksStmt = db.prepare(CLUSTER_SQL.releaseLocks);
    this.movedLocksStmt = db.prepare(CLUSTER_SQL.releaseMovedLocks);
    this.write = db.transaction((writes: readonly PresenceWrite[]) => {
      for (const w of writes) {
        const { sql, params } = presenceParams(w);
        this.statement(sql).run(...params);
      }
    });
    this.release = db.transaction((now: number, { timeoutMs, lockTimeoutMs, nodeId }: NodeRelease) => {
      const gone = this.dueStmt.all(now - timeoutMs, nodeId ?? null).map((r) => r.node_id);
      for (const id of gone) {
        this.locksStmt.run(now, now, id);
        this.movedLocksStmt.run(now, now, id, lockTimeoutMs);
        this.offStmt.run(now, id);
        this.removeStmt.run(id);
      }
      return gone;
    });
  }

  private statement(sql: string): Database.Statement {
    let s = this.byKind.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.byKind.set(sql, s);
    }
    return s;
  }

  heartbeat(node: NodeRecord): void {
    this.heartbeatStmt.run(...nodeParams(node));
  }

  listNodes(): NodeRecord[] {
    return this.listStmt.all().map(toNodeRecord);
  }

  get(deviceId: string): PresenceRecord | undefined {
    const r = this.getStmt.get(deviceId);
    return r && toPresenceRecord(r);
  }

  countConnected(): number {
    return this.countStmt.get()!.n;
  }
}
