/**
 * Feedback hub-wide, live, from the hub's event stream: the records are shown as they are made and
 * stay in the feedback queue for the back-end receivers.
 */
import { ErrorBanner } from '../components/common.js';
import { FeedbackTable } from '../components/feedback-table.js';
import type { HubEvents } from '../hub-events.js';
import type { Session } from '../session.js';

export function FeedbackPage({ session, events }: { session: Session; events: HubEvents }) {
  return (
    <div>
      <h1>Feedback</h1>
      <p class="note">
        Every feedback record the hub made since you signed in ({events.connected ? 'live' : 'connecting…'}). Watching
        takes nothing away from the back-end receivers.
      </p>
      {!session.can('ServiceConnect') && <p class="note">Feedback needs ServiceConnect (this policy has not).</p>}
      <ErrorBanner error={events.error} />
      <FeedbackTable records={events.records} showDevice={true} />
    </div>
  );
}
