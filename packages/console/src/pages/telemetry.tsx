/** Telemetry hub-wide, live: every device's messages as the hub appends them. */
import { TelemetryView } from '../components/telemetry-view.js';
import type { Session } from '../session.js';

export function TelemetryPage({ session }: { session: Session }) {
  return (
    <div>
      <h1>Telemetry</h1>
      <p class="note">
        Device-to-cloud messages from every device, as the hub stores them, since this page opened. Watching takes
        nothing from the built-in endpoint's readers.
      </p>
      <TelemetryView session={session} />
    </div>
  );
}
