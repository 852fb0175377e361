/**
 * A bench's PostgreSQL store heart-beats as a hub node does: its row in hub_nodes, and whether
 * another node has one (then its leases lock their rows: lease-lock-sql.ts). Without it a bench
 * would always measure the locking form.
 */
import type { PostgresStore } from '../../packages/hub/src/store/postgres/postgres-store.js';

export async function heartbeatAsNode(store: PostgresStore, address: string): Promise<void> {
  const now = Date.now();
  await store.heartbeatNode({ nodeId: store.nodeId, address, connections: 0, startedAt: now, heartbeatAt: now });
}
