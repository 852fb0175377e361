/** Hub overview: devices, connections, queues, the live C2D rates, policies and the CA file. */
import { Card, ErrorBanner, Secret } from '../components/common.js';
import { RateChart } from '../components/rate-chart.js';
import type { HubEvents } from '../hub-events.js';
import type { Session } from '../session.js';

export function OverviewPage({ session, events }: { session: Session; events: HubEvents }) {
  const { stats, points, error } = events;
  const { info } = session;
  return (
    <div>
      <h1>Overview</h1>
      <ErrorBanner error={error} />
      {!session.can('ServiceConnect') && (
        <p class="note">Live statistics need a policy with ServiceConnect (this one has not).</p>
      )}
      <div class="grid">
        <Card title="Devices">
          {stats?.devices ? (
            <dl class="figures">
              <dt>Total</dt>
              <dd data-testid="devices-total">{stats.devices.total}</dd>
              <dt>Enabled</dt>
              <dd>{stats.devices.enabled}</dd>
              <dt>Disabled</dt>
              <dd>{stats.devices.disabled}</dd>
            </dl>
          ) : (
            <p class="note">{session.can('RegistryRead') ? '…' : 'Needs RegistryRead.'}</p>
          )}
        </Card>
        <Card title="Connections">
          <dl class="figures">
            {Object.entries(stats?.connections ?? {}).map(([protocol, n]) => [
              <dt key={`${protocol}-t`}>{protocol.toUpperCase()}</dt>,
              <dd key={`${protocol}-d`}>{n}</dd>,
            ])}
          </dl>
        </Card>
        <Card title="Queues">
          <dl class="figures">
            <dt>Enqueued</dt>
            <dd>{stats ? stats.queues.enqueued : '…'}</dd>
            <dt>Invisible (locked)</dt>
            <dd>{stats ? stats.queues.invisible : '…'}</dd>
          </dl>
        </Card>
      </div>
      <Card title="Cloud-to-device messages per second">
        <RateChart points={points} />
      </Card>
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
