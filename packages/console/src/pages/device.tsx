/** One device: its identity, and tabs for its C2D messages, telemetry, twin, direct methods and dead letters. */
import { useCallback, useState } from 'preact/hooks';
import { ApiError, type Device, type OutgoingC2d, type PendingMessage } from '../api.js';
import { deviceConnectionString, ErrorBanner, Secret, when } from '../components/common.js';
import { type Tab, Tabs } from '../components/tabs.js';
import { TelemetryView } from '../components/telemetry-view.js';
import type { HubEvents } from '../hub-events.js';
import { usePoll } from '../poll.js';
import { type DeviceTab, deviceHref } from '../route.js';
import type { Session } from '../session.js';
import { DeviceDeadLetters } from './device-dead-letters.js';
import { DeviceHistory } from './device-history.js';
import { DeviceMessages } from './device-messages.js';
import { DeviceMethods } from './device-methods.js';
import { DeviceTwin } from './device-twin.js';

const REFRESH_MS = 2000;

const isNotFound = (err: unknown) => err instanceof ApiError && err.code === 'DeviceNotFound';

const TAB_LABELS: Record<DeviceTab, string> = {
  messages: 'Messages',
  history: 'Message history',
  telemetry: 'Telemetry',
  twin: 'Twin',
  methods: 'Direct methods',
  'dead-letters': 'Dead letters',
};

export function DevicePage({
  session,
  deviceId,
  tab,
  messageId,
  events,
}: {
  session: Session;
  deviceId: string;
  tab: DeviceTab;
  /** The message the history tab shows. */
  messageId?: string;
  events: HubEvents;
}) {
  const tabs: Array<Tab<DeviceTab>> = Object.entries(TAB_LABELS).map(([id, label]) => ({
    id: id as DeviceTab,
    label,
    href: deviceHref(deviceId, id as DeviceTab),
  }));
  const { api } = session;
  const [device, setDevice] = useState<Device | null>(null);
  const [pending, setPending] = useState<PendingMessage[] | null>(null);
  /** A refused change; cleared by the next change. */
  const [error, setError] = useState<unknown>(null);
  /** A failed reload; cleared by the next reload that works, so an old failure never sits beside new data. */
  const [loadError, setLoadError] = useState<unknown>(null);
  /** The hub says no such device: nothing to send to, peek at or purge. */
  const [missing, setMissing] = useState(false);
  const [notice, setNotice] = useState('');
  const records = events.records.filter((r) => r.deviceId === deviceId);
  const canService = session.can('ServiceConnect');

  const refresh = useCallback(async () => {
    try {
      if (session.can('RegistryRead')) setDevice(await api.getDevice(deviceId));
      if (canService) setPending(await api.pending(deviceId));
      setMissing(false);
      setLoadError(null);
    } catch (err) {
      if (isNotFound(err)) {
        setMissing(true);
        setDevice(null);
        setPending(null);
        setLoadError(null);
      } else setLoadError(err);
    }
  }, [api, deviceId, canService, session]);
  usePoll(refresh, REFRESH_MS);

  const send = async (m: OutgoingC2d) => {
    setError(null);
    setNotice('');
    try {
      const id = await api.send(deviceId, m);
      // The notice comes with the refreshed queue, so what it announces is what the page shows.
      await refresh();
      setNotice(id ? `Sent message ${id}` : 'Sent a message without a message id');
      return true;
    } catch (err) {
      setError(err);
      return false;
    }
  };
  const purge = async () => {
    const n = pending?.length ?? 0;
    const what = n === 0 ? 'every message' : `the ${n === 1 ? 'message' : `${n} messages`} shown`;
    const ok = globalThis.confirm(
      `Purge ${what} queued for ${deviceId}, locked ones included? This cannot be undone; messages sent with ack negative or full give Purged feedback.`,
    );
    if (!ok) return;
    setError(null);
    setNotice('');
    try {
      const n = await api.purge(deviceId);
      await refresh();
      setNotice(`Purged ${n} message${n === 1 ? '' : 's'}`);
    } catch (err) {
      setError(err);
    }
  };

  const key = device?.authentication.symmetricKey.primaryKey;
  return (
    <div>
      <p>
        <a href="#/devices">← Devices</a>
      </p>
      <h1>
        Device <code>{deviceId}</code>
      </h1>
      <ErrorBanner
        error={error ?? loadError ?? events.error}
        onClose={() => {
          setError(null);
          setLoadError(null);
        }}
      />
      {missing && (
        <p class="note" data-testid="unknown-device">
          The hub has no device <code>{deviceId}</code>: it was deleted, or never created. Create it on the{' '}
          <a href="#/devices">Devices</a> page.
        </p>
      )}
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {device && (
        <dl class="figures inline">
          <dt>Status</dt>
          <dd>
            <span class={`pill ${device.status}`}>{device.status}</span>
          </dd>
          <dt>Connection</dt>
          <dd>{device.connectionState}</dd>
          <dt>Last activity</dt>
          <dd>{when(device.lastActivityTime)}</dd>
          <dt>Waiting</dt>
          <dd>{device.cloudToDeviceMessageCount}</dd>
        </dl>
      )}
      {key && (
        <Secret
          text={deviceConnectionString(api.connection.hostName, deviceId, key)}
          label="Device connection string"
        />
      )}
      {!missing && (
        <Tabs label="Device views" tabs={tabs} current={tab}>
          {tab === 'messages' && (
            <DeviceMessages
              deviceId={deviceId}
              pending={pending}
              canService={canService}
              records={records}
              onSend={send}
              onPurge={purge}
              onRefresh={refresh}
            />
          )}
          {tab === 'history' && <DeviceHistory session={session} deviceId={deviceId} messageId={messageId} />}
          {tab === 'telemetry' && <TelemetryView session={session} deviceId={deviceId} />}
          {tab === 'twin' && <DeviceTwin session={session} deviceId={deviceId} />}
          {tab === 'methods' && <DeviceMethods session={session} deviceId={deviceId} />}
          {tab === 'dead-letters' && <DeviceDeadLetters session={session} deviceId={deviceId} />}
        </Tabs>
      )}
    </div>
  );
}
