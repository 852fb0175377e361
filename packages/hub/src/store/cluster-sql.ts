/**
 * The ClusterStore's statements (store/types.ts), in the SQL both adapters speak: the same text
 * with ? placeholders for SQLite and $n for PostgreSQL (`numbered`). Times are ms since the epoch.
 * A disconnect counts only from the node that holds the device, so an older connection's end never
 * clobbers a newer one.
 */
import type { NodeCounters, NodeRecord, PresenceRecord, PresenceWrite } from './types.js';

/** The tables (SQLite migration 11, PostgreSQL migration 12): integer times; bigint on PostgreSQL. */
export function clusterTablesSql(int: 'INTEGER' | 'bigint'): string {
  return `
CREATE TABLE hub_nodes (
  node_id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  connections INTEGER NOT NULL,
  started_at ${int} NOT NULL,
  heartbeat_at ${int} NOT NULL
);
CREATE TABLE device_presence (
  device_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  connected ${int === 'bigint' ? 'boolean' : 'INTEGER'} NOT NULL,
  state_at ${int} NOT NULL,
  activity_at ${int}
);
CREATE INDEX device_presence_node ON device_presence (node_id) WHERE connected${int === 'bigint' ? '' : ' = 1'};
`;
}

/**
 * SQLite migration 13, PostgreSQL migration 15: the node a device was still connected to when it
 * connected to another (moved_from) and when (moved_at), so that node's release also frees the
 * locks it held for the device (CLUSTER_SQL.releaseMovedLocks).
 */
export function movedColumnsSql(int: 'INTEGER' | 'bigint'): string {
  return `
ALTER TABLE device_presence ADD COLUMN moved_from TEXT;
ALTER TABLE device_presence ADD COLUMN moved_at ${int};
CREATE INDEX device_presence_moved ON device_presence (moved_from) WHERE moved_from IS NOT NULL;
`;
}

/**
 * SQLite migration 14, PostgreSQL migration 17: each node's traffic counters (NodeCounters as
 * JSON), written with its heartbeat, so any node's console shows the hub's totals.
 */
export function nodeCountersSql(): string {
  return 'ALTER TABLE hub_nodes ADD COLUMN counters TEXT;';
}

/** `?` placeholders, each numbered in order ($1, $2...): the PostgreSQL form of a statement. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export const CLUSTER_SQL = {
  heartbeat: `INSERT INTO hub_nodes (node_id, address, connections, started_at, heartbeat_at, counters)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, connections = excluded.connections,
    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, counters = excluded.counters`,
  listNodes: 'SELECT node_id, address, connections, started_at, heartbeat_at, counters FROM hub_nodes ORDER BY node_id',
  // A device still Connected on another node moved here: that node may be dead with the device's
  // messages locked (moved_from, moved_at, kept until the next move; read by releaseMovedLocks).
  // The CASEs read the row as it was: SET sees the old values on both adapters.
  connect: `INSERT INTO device_presence (device_id, node_id, connected, state_at, activity_at) VALUES (?, ?, TRUE, ?, ?)
    ON CONFLICT (device_id) DO UPDATE SET node_id = excluded.node_id, connected = TRUE, state_at = excluded.state_at,
    activity_at = excluded.activity_at,
    moved_from = CASE WHEN device_presence.connected AND device_presence.node_id <> excluded.node_id
      THEN device_presence.node_id ELSE device_presence.moved_from END,
    moved_at = CASE WHEN device_presence.connected AND device_presence.node_id <> excluded.node_id
      THEN excluded.state_at ELSE device_presence.moved_at END`,
  disconnect:
    'UPDATE device_presence SET connected = FALSE, state_at = ? WHERE device_id = ? AND node_id = ? AND connected',
  // A device active without a connection (HTTPS) gets a Disconnected row; time only moves forward.
  activity: `INSERT INTO device_presence (device_id, node_id, connected, state_at, activity_at) VALUES (?, ?, FALSE, ?, ?)
    ON CONFLICT (device_id) DO UPDATE SET activity_at = CASE WHEN device_presence.activity_at IS NULL
    OR device_presence.activity_at < excluded.activity_at THEN excluded.activity_at ELSE device_presence.activity_at END`,
  getPresence: 'SELECT node_id, connected, state_at, activity_at FROM device_presence WHERE device_id = ?',
  countConnected: 'SELECT count(*) AS n FROM device_presence WHERE connected',
  /**
   * A released node's deliveries: the locks of the devices it held (connected there) expire now,
   * so the scheduler returns the messages to Enqueued as at any lock expiry (countLockExpiry
   * decides whether it counts), instead of at the lock timeout. Run before those devices are
   * marked Disconnected. Parameters: now, now, node id.
   */
  releaseLocks: `UPDATE c2d_messages SET locked_until = ? WHERE lock_token IS NOT NULL AND locked_until > ?
    AND device_id IN (SELECT device_id FROM device_presence WHERE connected AND node_id = ?)`,
  /**
   * The same for the devices that moved from the released node to another while still connected
   * to it (it died; they came back elsewhere before the release): the locks it may hold for them
   * are those made before the move, so locked_until < moved_at + the lock timeout; the new node's
   * own locks (leased after the move) are left alone. Parameters: now, now, node id, lock timeout.
   */
  releaseMovedLocks: `UPDATE c2d_messages SET locked_until = ? WHERE lock_token IS NOT NULL AND locked_until > ?
    AND device_id IN (SELECT device_id FROM device_presence WHERE moved_from = ?)
    AND locked_until < (SELECT p.moved_at FROM device_presence p WHERE p.device_id = c2d_messages.device_id) + ?`,
} as const;

export interface NodeRow {
  node_id: string;
  address: string;
  connections: number;
  started_at: number | string;
  heartbeat_at: number | string;
  counters: string | null;
}

export interface PresenceRow {
  node_id: string;
  connected: boolean | number;
  state_at: number | string;
  activity_at: number | string | null;
}

export function toNodeRecord(r: NodeRow): NodeRecord {
  return {
    nodeId: r.node_id,
    address: r.address,
    connections: Number(r.connections),
    startedAt: Number(r.started_at),
    heartbeatAt: Number(r.heartbeat_at),
    ...(r.counters ? { counters: JSON.parse(r.counters) as NodeCounters } : {}),
  };
}

export function toPresenceRecord(r: PresenceRow): PresenceRecord {
  return {
    connectionState: r.connected === true || r.connected === 1 ? 'Connected' : 'Disconnected',
    nodeId: r.node_id,
    connectionStateUpdatedTime: Number(r.state_at),
    lastActivityTime: r.activity_at === null ? undefined : Number(r.activity_at),
  };
}

/** The parameters of one presence write, in the order of its statement. */
export function presenceParams(w: PresenceWrite): { sql: string; params: unknown[] } {
  switch (w.kind) {
    case 'connect':
      return { sql: CLUSTER_SQL.connect, params: [w.deviceId, w.nodeId, w.at, w.at] };
    case 'disconnect':
      return { sql: CLUSTER_SQL.disconnect, params: [w.at, w.deviceId, w.nodeId] };
    case 'activity':
      return { sql: CLUSTER_SQL.activity, params: [w.deviceId, w.nodeId, w.at, w.at] };
  }
}

export function nodeParams(n: NodeRecord): unknown[] {
  return [
    n.nodeId,
    n.address,
    n.connections,
    n.startedAt,
    n.heartbeatAt,
    n.counters ? JSON.stringify(n.counters) : null,
  ];
}
