/** One device: its identity, send a message, the pending queue (peeked, never leased), purge, live feedback. */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, type Device, type OutgoingC2d, type PendingMessage } from '../api.js';
import { Card, deviceConnectionString, ErrorBanner, Secret, when } from '../components/common.js';
import { FeedbackTable } from '../components/feedback-table.js';
import type { HubEvents } from '../hub-events.js';
import type { Session } from '../session.js';
import { SendForm } from './send-form.js';

const REFRESH_MS = 2000;

function preview(m: PendingMessage): string {
  const bin = atob(m.bodyPreview);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text;
  return m.bodySize > bytes.length ? `${shown}… (${m.bodySize} bytes)` : shown;
}

/** The application properties as `name=value` lines; '—' when none. */
function propertyLines(m: PendingMessage): string {
  const entries = Object.entries(m.properties);
  return entries.length === 0 ? '—' : entries.map(([k, v]) => `${k}=${v}`).join('\n');
}

const isNotFound = (err: unknown) => err instanceof ApiError && err.code === 'DeviceNotFound';

export function DevicePage({ session, deviceId, events }: { session: Session; deviceId: string; events: HubEvents }) {
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
  useEffect(() => {
    void refresh();
    const t = setInterval(refresh, REFRESH_MS);
    return () => clearInterval(t);
  }, [refresh]);

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
      {!missing && <SendForm canSend={canService} onSend={send} />}
      {!missing && (
        <Card title="Pending messages">
          <div class="toolbar">
            <button type="button" class="small" onClick={() => void refresh()}>
              Refresh
            </button>
            <button type="button" id="purge" class="small danger" disabled={!canService} onClick={purge}>
              Purge queue
            </button>
          </div>
          {pending && pending.length === 0 && <p class="note">The queue is empty.</p>}
          {pending && pending.length > 0 && (
            <div class="table-wrap">
              <table data-testid="pending">
                <thead>
                  <tr>
                    <th scope="col">Seq</th>
                    <th scope="col">Message id</th>
                    <th scope="col">Correlation id</th>
                    <th scope="col">Content type</th>
                    <th scope="col">Ack</th>
                    <th scope="col">Properties</th>
                    <th scope="col">State</th>
                    <th scope="col">Deliveries</th>
                    <th scope="col">Enqueued</th>
                    <th scope="col">Expires</th>
                    <th scope="col">Body</th>
                  </tr>
                </thead>
                <tbody>
                  {pending.map((m) => (
                    <tr key={m.sequenceNumber}>
                      <td>{m.sequenceNumber}</td>
                      <td>
                        <code>{m.messageId ?? '—'}</code>
                      </td>
                      <td>{m.correlationId ? <code>{m.correlationId}</code> : '—'}</td>
                      <td>{m.contentType ?? '—'}</td>
                      <td>{m.ack}</td>
                      <td class="properties">{propertyLines(m)}</td>
                      <td>{m.state}</td>
                      <td>{m.deliveryCount}</td>
                      <td>{when(m.enqueuedTimeUtc)}</td>
                      <td>{when(m.expiryTimeUtc)}</td>
                      <td class="preview">{preview(m)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      )}
      <Card title="Feedback for this device">
        <FeedbackTable records={records} showDevice={false} />
      </Card>
    </div>
  );
}
