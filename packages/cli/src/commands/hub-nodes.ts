/**
 * `ferry hub nodes`: the hub's live nodes (the REST extension GET /nodes): each node's address,
 * device connections and last heartbeat, and the devices connected hub-wide. A node that stopped
 * heart-beating leaves the list after cluster.nodeTimeoutMs (docs/operations.md).
 */
import { parse } from '../args.js';
import type { Io } from '../io.js';
import { table } from '../table.js';
import { resolveTarget, TARGET_OPTIONS } from '../target.js';
import { type RestHints, rest } from '../x509-rest.js';

export const HUB_NODES_USAGE = `Usage: ferry hub nodes [options]

Prints the hub's live nodes: address, device connections, last heartbeat.

Options:
  --connection-string CS   a hub connection string with ServiceConnect
  --data-dir DIR           data directory of a local hub (default ./ferry-data)
  --ca FILE                CA certificate to trust (default: the data directory's CA)
  --port N                 the hub's HTTPS port (default: the local hub's, else 443)`;

const HINTS: RestHints = {
  IotHubUnauthorizedAccess:
    'Listing nodes needs a policy with ServiceConnect (iothubowner or service), or the key is wrong.',
};

interface NodesReply {
  connectedDevices: number;
  nodes: Array<{ nodeId: string; address: string; connections: number; lastHeartbeatTimeUtc: string }>;
}

export async function hubNodes(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, TARGET_OPTIONS, HUB_NODES_USAGE, 0);
  const target = await resolveTarget(values, io);
  const reply = (await rest(target, 'GET', '/nodes', undefined, { hints: HINTS })).json as NodesReply;
  io.out(
    table(
      ['node', 'address', 'connections', 'last heartbeat'],
      reply.nodes.map((n) => [n.nodeId, n.address, String(n.connections), n.lastHeartbeatTimeUtc]),
    ),
  );
  io.out(`${reply.nodes.length} node(s), ${reply.connectedDevices} device(s) connected hub-wide`);
  return 0;
}
