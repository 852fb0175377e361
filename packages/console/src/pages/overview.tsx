/**
 * Hub overview: devices, connections, queues, telemetry, latencies, the live C2D rates, the nodes,
 * policies and the CA file. Everything but the device counts and, on several nodes, the nodes'
 * totals comes from the hub's in-memory figures.
 */
import { useEffect, useState } from 'preact/hooks';
import { Card, ErrorBanner, Secret } from '../components/common.js';
import { NodesCard } from '../components/nodes-card.js';
import { RateChart } from '../components/rate-chart.js';
import type { HubEvents } from '../hub-events.js';
import { formatSeconds, type Quantiles } from '../latency.js';
import type { Session } from '../session.js';

interface DeviceCounts {
  total: number;
  enabled: number;
  disabled: number;
}

export function OverviewPage({ session, events }: { session: Session; events: HubEvents }) {
  const { stats, points, error, latency } = events;
  const { info } = session;
  const live = session.can('ServiceConnect');
  // Without ServiceConnect there is no event stream: the device counts come from the registry.
  const [registryCounts, setRegistryCounts] = useState<DeviceCounts | null>(null);
  const [countError, setCountError] = useState<unknown>(null);
  useEffect(() => {
    if (live || !session.can('RegistryRead')) return;
    session.api.deviceStatistics().then(
      (s) =>
        setRegistryCounts({
          total: s.totalDeviceCount,
          enabled: s.enabledDeviceCount,
          disabled: s.disabledDeviceCount,
        }),
      setCountError,
    );
  }, [session, live]);
  const devices = stats?.devices ?? registryCounts;
  const lastRate = points[points.length - 1]?.telemetry;
  return (
    <div>
      <h1>Overview</h1>
      <ErrorBanner error={error ?? countError} />
      {!live && (
        <p class="note" data-testid="no-live">
          Live statistics (connections, queues, rates) need a policy with ServiceConnect (this one has not).
        </p>
      )}
      {stats?.nodes && (
        <p class="note" data-testid="counters-nodes">
          Sends, settlements and telemetry: the sums over the hub's {stats.nodes.length} live nodes (another node's
          figures as of its last heartbeat); connections by protocol and latencies: this node's.
        </p>
      )}
      <div class="grid">
        <Card title="Devices">
          {devices ? (
            <dl class="figures">
              <dt>Total</dt>
              <dd data-testid="devices-total">{devices.total}</dd>
              <dt>Enabled</dt>
              <dd>{devices.enabled}</dd>
              <dt>Disabled</dt>
              <dd>{devices.disabled}</dd>
            </dl>
          ) : (
            <p class="note">{session.can('RegistryRead') ? '…' : 'Needs RegistryRead.'}</p>
          )}
        </Card>
        <Card title="Connections">
          {!live && <p class="note">Needs ServiceConnect.</p>}
          <dl class="figures">
            {stats?.devicesConnected !== undefined && [
              <dt key="hub-t">Devices, all nodes</dt>,
              <dd key="hub-d" data-testid="devices-connected">
                {stats.devicesConnected}
              </dd>,
            ]}
            {Object.entries(stats?.connections ?? {}).map(([protocol, n]) => [
              <dt key={`${protocol}-t`}>{protocol.toUpperCase()}, this node</dt>,
              <dd key={`${protocol}-d`}>{n}</dd>,
            ])}
          </dl>
        </Card>
        <Card title="Queues">
          {live ? (
            <dl class="figures">
              <dt>Enqueued</dt>
              <dd>{stats ? stats.queues.enqueued : '…'}</dd>
              <dt>Invisible (locked)</dt>
              <dd>{stats ? stats.queues.invisible : '…'}</dd>
              <dt>Feedback records</dt>
              <dd data-testid="feedback-pending">{stats?.feedbackRecords ?? '…'}</dd>
            </dl>
          ) : (
            <p class="note">Needs ServiceConnect.</p>
          )}
        </Card>
        <Card title="Telemetry">
          {live ? (
            <dl class="figures">
              <dt>Messages received</dt>
              <dd data-testid="telemetry-total">{stats?.telemetry?.messages ?? '…'}</dd>
              <dt>Per second</dt>
              <dd data-testid="telemetry-rate">{lastRate === undefined ? '—' : lastRate.toFixed(1)}</dd>
              <dt>Body bytes</dt>
              <dd>{stats?.telemetry?.bytes ?? '…'}</dd>
            </dl>
          ) : (
            <p class="note">Needs ServiceConnect.</p>
          )}
          {live && <a href="#/telemetry">Watch live telemetry</a>}
        </Card>
        <Card title="Latency, last 10 s (p50 / p99)">
          {live ? (
            <dl class="figures">
              <dt>Group commit</dt>
              <dd data-testid="latency-commit">{figure(latency.commit)}</dd>
              <dt>Enqueue to delivery</dt>
              <dd data-testid="latency-delivery">{figure(latency.delivery)}</dd>
              <dt>Delivery to settle</dt>
              <dd data-testid="latency-settle">{figure(latency.settle)}</dd>
            </dl>
          ) : (
            <p class="note">Needs ServiceConnect.</p>
          )}
        </Card>
      </div>
      {live && (
        <Card title="Cloud-to-device messages per second">
          <RateChart points={points} />
        </Card>
      )}
      {live && <NodesCard session={session} />}
      <Card title="Shared access policies">
        <p class="note">
          The policies that grant no more than <strong>{info.caller.policyName}</strong> does.
        </p>
        <ul class="plain">
          {info.policies.map((p) => (
            <li key={p.keyName}>
              <div>
                <strong>{p.keyName}</strong> <span class="note">{p.rights.join(', ')}</span>
              </div>
              <Secret text={p.connectionString} label={`${p.keyName} connection string`} />
            </li>
          ))}
        </ul>
      </Card>
      <Card title="TLS">
        <p>
          Clients trust the hub with the CA file{' '}
          {info.caFile ? (
            <code>{info.caFile}</code>
          ) : (
            <span class="note">(not known to the hub: a user certificate)</span>
          )}
          .
        </p>
      </Card>
    </div>
  );
}

/** 'p50 / p99', or a dash when nothing was measured in the window. */
function figure(q: Quantiles | undefined): string {
  return q ? `${formatSeconds(q.p50)} / ${formatSeconds(q.p99)}` : '—';
}
