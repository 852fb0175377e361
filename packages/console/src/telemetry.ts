/**
 * Live telemetry from GET /events/telemetry (a Ferry extension, ServiceConnect): the events
 * devices send from the moment the view opens, for one device or the whole hub. Watching takes
 * nothing from the built-in endpoint's readers.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ApiError } from './api.js';
import { openStream } from './events.js';
import type { Session } from './session.js';

/** Events kept on screen. */
const KEEP_EVENTS = 200;

export interface TelemetryEvent {
  deviceId: string;
  partition: number;
  sequenceNumber: number;
  enqueuedTimeUtc: string;
  messageId: string | null;
  correlationId: string | null;
  contentType: string | null;
  contentEncoding: string | null;
  properties: Record<string, string>;
  bodySize: number;
  /** base64 of the first 1,024 bytes */
  bodyPreview: string;
}

export interface LiveTelemetry {
  /** newest first */
  events: TelemetryEvent[];
  /** Events received since the view opened (shown or not). */
  received: number;
  /** Events the hub skipped because the view was too far behind. */
  skipped: number;
  /** The hub watches every partition: what is sent from now on is shown. */
  ready: boolean;
  error: ApiError | null;
}

const EMPTY: LiveTelemetry = { events: [], received: 0, skipped: 0, ready: false, error: null };

/** Live telemetry while `paused` is false (pausing closes the stream); `clear` empties the list. */
export function useTelemetry(
  session: Session,
  deviceId: string | undefined,
  paused: boolean,
): LiveTelemetry & { clear(): void } {
  const [state, setState] = useState<LiveTelemetry>(EMPTY);
  useEffect(() => {
    if (paused || !session.can('ServiceConnect')) return;
    const close = openStream(
      session.api,
      '/events/telemetry',
      { deviceId },
      (connected, error) => setState((s) => ({ ...s, ready: connected && s.ready, error: error ?? null })),
      (name, data) => {
        if (name === 'ready') setState((s) => ({ ...s, ready: true }));
        else if (name === 'telemetry') {
          const e = JSON.parse(data) as TelemetryEvent;
          setState((s) => ({ ...s, received: s.received + 1, events: [e, ...s.events].slice(0, KEEP_EVENTS) }));
        } else if (name === 'skipped') {
          const { count } = JSON.parse(data) as { count: number };
          setState((s) => ({ ...s, skipped: s.skipped + count }));
        }
      },
    );
    return () => {
      close();
      // Not ready until the next stream says so: what is sent before then may not be shown.
      setState((s) => ({ ...s, ready: false }));
    };
  }, [session, deviceId, paused]);
  return { ...state, clear: () => setState((s) => ({ ...s, events: [], received: 0, skipped: 0 })) };
}
