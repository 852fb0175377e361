/**
 * GET /nodes, a Ferry extension (issue 28; ServiceConnect): the hub's live nodes as their
 * heartbeats describe them, and the devices connected hub-wide. `ferry hub nodes` and the console's
 * overview show it. On one process (SQLite) it lists that process.
 */
import { FerryError } from '@ferry/common';
import { sendJson } from './respond.js';
import type { Route } from './router.js';

const iso = (ms: number) => new Date(ms).toISOString();

export const nodesRoute: Route = {
  method: 'GET',
  path: '/nodes',
  operation: () => ({ permission: 'ServiceConnect' }),
  async handle({ ctx, res }) {
    if (!ctx.nodes) throw new FerryError('NotImplemented', 'This hub keeps no node heartbeats');
    const [nodes, connectedDevices] = await Promise.all([ctx.nodes.listNodes(), ctx.nodes.countConnected()]);
    sendJson(res, 200, {
      connectedDevices,
      nodes: nodes.map((n) => ({
        nodeId: n.nodeId,
        address: n.address,
        connections: n.connections,
        startedTimeUtc: iso(n.startedAt),
        lastHeartbeatTimeUtc: iso(n.heartbeatAt),
      })),
    });
  },
};
