/**
 * The device's dead letters (a Ferry extension: IoT Hub throws them away): rejected, expired,
 * over-delivered and purged C2D messages with why and when, each to requeue at the tail of the
 * queue or to delete.
 */
import { useCallback, useState } from 'preact/hooks';
import type { DeadLetter } from '../api.js';
import { bodyText, MessageIdLink, Outcome, when } from '../components/common.js';
import { Table } from '../components/table.js';
import { usePoll } from '../poll.js';
import type { Session } from '../session.js';

const REFRESH_MS = 3000;

export function DeviceDeadLetters({ session, deviceId }: { session: Session; deviceId: string }) {
  const { api } = session;
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [notice, setNotice] = useState('');

  const load = useCallback(async () => {
    try {
      setLetters(await api.deadLetters(deviceId));
      setLoadError(null);
    } catch (err) {
      setLoadError(err);
    }
  }, [api, deviceId]);
  usePoll(load, REFRESH_MS);

  /** Runs one change; its notice comes with the reloaded list, so what it says is what is shown. */
  const act = async (work: () => Promise<string>) => {
    setError(null);
    setNotice('');
    try {
      const done = await work();
      await load();
      setNotice(done);
    } catch (err) {
      setError(err);
    }
  };
  const label = (m: DeadLetter) => m.messageId ?? `sequence number ${m.sequenceNumber}`;

  return (
    <>
      <p class="note">
        C2D messages that left the queue without being completed, kept by the hub for a while (Ferry extension). Requeue
        puts one back at the end of the queue with a fresh expiry; watching changes nothing.
      </p>
      <Outcome errors={[error, loadError]} clear={[setError, setLoadError]} notice={notice} />
      {letters?.length === 0 && <p class="note">No dead letters.</p>}
      {letters && letters.length > 0 && (
        <Table
          label="Dead letters"
          columns={['Message id', 'Reason', 'Dead-lettered', 'Enqueued', 'Deliveries', 'Body', 'Actions']}
        >
          {letters.map((m) => (
            <tr key={m.sequenceNumber}>
              <th scope="row">
                <MessageIdLink deviceId={deviceId} messageId={m.messageId} />
              </th>
              <td>{m.reason}</td>
              <td>{when(m.deadLetteredTimeUtc)}</td>
              <td>{when(m.enqueuedTimeUtc)}</td>
              <td>{m.deliveryCount}</td>
              <td class="preview">{bodyText(m.bodyPreview, m.bodySize)}</td>
              <td class="actions">
                <button
                  type="button"
                  class="small"
                  disabled={!session.can('ServiceConnect')}
                  onClick={() =>
                    act(async () => {
                      const seq = await api.requeueDeadLetter(deviceId, m.sequenceNumber);
                      return `Requeued ${label(m)}: it is back in the queue as sequence number ${seq}`;
                    })
                  }
                >
                  Requeue
                </button>
                <button
                  type="button"
                  class="small danger"
                  disabled={!session.can('ServiceConnect')}
                  onClick={() => {
                    if (!confirm(`Delete the dead letter ${label(m)}? It cannot be requeued afterwards.`)) return;
                    void act(async () => {
                      await api.deleteDeadLetter(deviceId, m.sequenceNumber);
                      return `Deleted the dead letter ${label(m)}`;
                    });
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </>
  );
}
