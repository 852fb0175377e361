/** Feedback records as they arrive, newest first. */
import type { FeedbackRecord } from '../events.js';
import { deviceHref } from '../route.js';
import { MessageIdLink, when } from './common.js';
import { Table } from './table.js';

export function FeedbackTable({ records, showDevice }: { records: FeedbackRecord[]; showDevice: boolean }) {
  if (records.length === 0) return <p class="note">No feedback records yet; new ones appear here live.</p>;
  return (
    <Table testId="feedback" columns={['Status', 'Original message id', showDevice && 'Device', 'Time', 'Description']}>
      {records.map((r, i) => (
        <tr key={`${r.originalMessageId}-${r.enqueuedTimeUtc}-${i}`}>
          <td>
            <span class={`pill ${r.statusCode === 'Success' ? 'enabled' : 'disabled'}`}>{r.statusCode}</span>
          </td>
          <td>
            <MessageIdLink deviceId={r.deviceId} messageId={r.originalMessageId} />
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
    </Table>
  );
}
