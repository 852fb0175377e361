/** Feedback records as they arrive, newest first. */
import type { FeedbackRecord } from '../events.js';
import { deviceHref } from '../route.js';
import { when } from './common.js';

export function FeedbackTable({ records, showDevice }: { records: FeedbackRecord[]; showDevice: boolean }) {
  if (records.length === 0) return <p class="note">No feedback records yet; new ones appear here live.</p>;
  return (
    <div class="table-wrap">
      <table data-testid="feedback">
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Original message id</th>
            {showDevice && <th scope="col">Device</th>}
            <th scope="col">Time</th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {records.map((r, i) => (
            <tr key={`${r.originalMessageId}-${r.enqueuedTimeUtc}-${i}`}>
              <td>
                <span class={`pill ${r.statusCode === 'Success' ? 'enabled' : 'disabled'}`}>{r.statusCode}</span>
              </td>
              <td>
                <code>{r.originalMessageId}</code>
              </td>
              {showDevice && (
                <td>
                  <a href={deviceHref(r.deviceId)}>{r.deviceId}</a>
                </td>
              )}
              <td>{when(r.enqueuedTimeUtc)}</td>
              <td>{r.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
