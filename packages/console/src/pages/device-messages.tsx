/** A device's C2D messages: send one, the pending queue (peeked, never leased), purge, live feedback. */
import type { OutgoingC2d, PendingMessage } from '../api.js';
import { bodyText, Card, MessageIdLink, propertyLines, when } from '../components/common.js';
import { FeedbackTable } from '../components/feedback-table.js';
import { Table } from '../components/table.js';
import type { FeedbackRecord } from '../events.js';
import { SendForm } from './send-form.js';

export function DeviceMessages({
  deviceId,
  pending,
  canService,
  records,
  onSend,
  onPurge,
  onRefresh,
}: {
  deviceId: string;
  pending: PendingMessage[] | null;
  canService: boolean;
  records: FeedbackRecord[];
  onSend(m: OutgoingC2d): Promise<boolean>;
  onPurge(): Promise<void>;
  onRefresh(): Promise<void>;
}) {
  return (
    <>
      <SendForm canSend={canService} onSend={onSend} />
      <Card title="Pending messages">
        <div class="toolbar">
          <button type="button" class="small" onClick={() => void onRefresh()}>
            Refresh
          </button>
          <button type="button" id="purge" class="small danger" disabled={!canService} onClick={onPurge}>
            Purge queue
          </button>
        </div>
        {pending && pending.length === 0 && <p class="note">The queue is empty.</p>}
        {pending && pending.length > 0 && (
          <Table
            testId="pending"
            columns={[
              'Seq',
              'Message id',
              'Correlation id',
              'Content type',
              'Ack',
              'Properties',
              'State',
              'Deliveries',
              'Enqueued',
              'Expires',
              'Body',
            ]}
          >
            {pending.map((m) => (
              <tr key={m.sequenceNumber}>
                <td>{m.sequenceNumber}</td>
                <td>
                  <MessageIdLink deviceId={deviceId} messageId={m.messageId} />
                </td>
                <td>{m.correlationId ? <code>{m.correlationId}</code> : '—'}</td>
                <td>{m.contentType ?? '—'}</td>
                <td>{m.ack}</td>
                <td class="properties">{propertyLines(m.properties)}</td>
                <td>{m.state}</td>
                <td>{m.deliveryCount}</td>
                <td>{when(m.enqueuedTimeUtc)}</td>
                <td>{when(m.expiryTimeUtc)}</td>
                <td class="preview">{bodyText(m.bodyPreview, m.bodySize)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Card>
      <Card title="Feedback for this device">
        <FeedbackTable records={records} showDevice={false} />
      </Card>
    </>
  );
}
