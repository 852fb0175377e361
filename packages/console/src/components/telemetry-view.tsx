/** Live telemetry, newest first, with pause and clear: on a device's page and on the Telemetry page. */
import { useState } from 'preact/hooks';
import { deviceHref } from '../route.js';
import type { Session } from '../session.js';
import { useTelemetry } from '../telemetry.js';
import { bodyText, ErrorBanner, propertyLines, when } from './common.js';
import { Table } from './table.js';

export function TelemetryView({ session, deviceId }: { session: Session; deviceId?: string }) {
  const [paused, setPaused] = useState(false);
  const live = useTelemetry(session, deviceId, paused);
  const hubWide = deviceId === undefined;
  if (!session.can('ServiceConnect'))
    return <p class="note">Live telemetry needs ServiceConnect (this policy has not).</p>;
  const state = paused ? 'Paused' : live.ready ? 'Watching: new messages appear here' : 'Connecting…';
  return (
    <div>
      <div class="toolbar">
        <button type="button" class="small" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" class="small" onClick={live.clear}>
          Clear
        </button>
        <span role="status" data-testid="telemetry-state">
          {state} · {live.received} received
          {live.skipped > 0 && ` · ${live.skipped} skipped (the hub was sending faster than this page reads)`}
        </span>
      </div>
      <ErrorBanner error={live.error} />
      {live.events.length === 0 ? (
        <p class="note">No telemetry since this view opened.</p>
      ) : (
        <Table
          label={hubWide ? 'Live telemetry' : `Live telemetry of ${deviceId}`}
          testId="telemetry"
          columns={[
            'Enqueued',
            hubWide && 'Device',
            'Message id',
            'Content type',
            'Properties',
            'Body',
            'Partition / seq',
          ]}
        >
          {live.events.map((e) => (
            <tr key={`${e.partition}-${e.sequenceNumber}`}>
              <td>{when(e.enqueuedTimeUtc)}</td>
              {hubWide && (
                <td>
                  <a href={deviceHref(e.deviceId)}>{e.deviceId}</a>
                </td>
              )}
              <td>{e.messageId ? <code>{e.messageId}</code> : '—'}</td>
              <td>{e.contentType ?? '—'}</td>
              <td class="properties">{propertyLines(e.properties)}</td>
              <td class="preview">{bodyText(e.bodyPreview, e.bodySize)}</td>
              <td>
                {e.partition} / {e.sequenceNumber}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}
