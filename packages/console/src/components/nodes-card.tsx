/** The hub's live nodes (GET /nodes): one row per hub process with its connections and heartbeat. */
import { useCallback, useState } from 'preact/hooks';
import { type HubNodes, hubNodes } from '../extensions.js';
import { usePoll } from '../poll.js';
import type { Session } from '../session.js';
import { Card, ErrorBanner, when } from './common.js';
import { Table } from './table.js';

const REFRESH_MS = 5000;

export function NodesCard({ session }: { session: Session }) {
  const [nodes, setNodes] = useState<HubNodes | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(async () => {
    try {
      setNodes(await hubNodes(session.api));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [session]);
  usePoll(load, REFRESH_MS);
  return (
    <Card title="Nodes">
      <ErrorBanner error={error} />
      {nodes && (
        <>
          <p>
            <strong data-testid="connected-devices">{nodes.connectedDevices}</strong> devices connected hub-wide
          </p>
          <Table label="Nodes" columns={['Node', 'Address', 'Connections', 'Started', 'Last heartbeat']}>
            {nodes.nodes.map((n) => (
              <tr key={n.nodeId}>
                <th scope="row">
                  <code>{n.nodeId}</code>
                </th>
                <td>{n.address}</td>
                <td>{n.connections}</td>
                <td>{when(n.startedTimeUtc)}</td>
                <td>{when(n.lastHeartbeatTimeUtc)}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </Card>
  );
}
