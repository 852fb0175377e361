/**
 * A C2D message's timeline (GET .../deviceBound/history, a Ferry extension): every step of each
 * copy of the device's messages with that id, enqueued to how it ended, with who, how and when.
 */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { Card, ErrorBanner, when } from '../components/common.js';
import { type HistoryStep, type MessageHistory, messageHistory } from '../extensions.js';
import type { Session } from '../session.js';

/** A step's fields beside its kind and time, as `name=value`. */
function details(step: HistoryStep): string {
  return Object.entries(step)
    .filter(([k]) => k !== 'kind' && k !== 'timeUtc')
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' · ');
}

export function DeviceHistory({
  session,
  deviceId,
  messageId: linked,
}: {
  session: Session;
  deviceId: string;
  /** Shown at once (a link from a message id elsewhere in the console). */
  messageId?: string;
}) {
  const [messageId, setMessageId] = useState(linked ?? '');
  const [history, setHistory] = useState<MessageHistory | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(
    async (id: string) => {
      setError(null);
      try {
        setHistory(await messageHistory(session.api, deviceId, id));
      } catch (err) {
        setError(err);
        setHistory(null);
      }
    },
    [session, deviceId],
  );
  useEffect(() => {
    if (linked === undefined) return;
    setMessageId(linked);
    void load(linked);
  }, [linked, load]);
  const show = (e: Event) => {
    e.preventDefault();
    void load(messageId.trim());
  };

  return (
    <Card title="Message history">
      <form class="toolbar" aria-label="Message history" onSubmit={show}>
        <label for="history-message-id">Message id</label>
        <input
          id="history-message-id"
          required
          value={messageId}
          onInput={(e) => setMessageId(e.currentTarget.value)}
        />
        <button type="submit">Show history</button>
      </form>
      <ErrorBanner error={error} />
      {history && history.copies.length === 0 && (
        <p class="note">
          No history for <code>{history.messageId}</code>: no message of this device had that id, or its history is past
          retention.
        </p>
      )}
      {history?.copies.map((copy) => (
        <section key={copy.sequenceNumber} aria-label={`Sequence number ${copy.sequenceNumber}`}>
          <h3>
            Sequence number {copy.sequenceNumber} {copy.ended ? '(ended)' : '(still in the queue)'}
          </h3>
          <ol class="timeline">
            {copy.steps.map((s, i) => (
              <li key={`${s.kind}-${i}`}>
                <strong>{s.kind}</strong> {when(s.timeUtc)} <span class="note">{details(s)}</span>
              </li>
            ))}
          </ol>
        </section>
      ))}
    </Card>
  );
}
