/**
 * The hub's event streams (GET /events, GET /events/telemetry: text/event-stream) read with fetch, since EventSource
 * cannot send the Authorization header. Reconnects with a fresh token when the stream ends (the
 * hub ends it when the token expires) or fails; an authorization failure is reported, not retried.
 */
import type { ApiError, HubApi } from './api.js';
import type { HistogramSample } from './latency.js';

export interface FeedbackRecord {
  originalMessageId: string;
  enqueuedTimeUtc: string;
  statusCode: string;
  description: string;
  deviceId: string;
  deviceGenerationId: string;
}

/** One node's totals since it started (several nodes): this node's as of the sample, another's as of its heartbeat. */
export interface NodeTotals {
  nodeId: string;
  at: string;
  self: boolean;
  c2d: { sent: number; completed: number; abandoned: number; rejected: number };
  telemetry: { messages: number; bytes: number };
}

export interface HubStats {
  time: string;
  /** This node's open connections by protocol. */
  connections: Record<string, number>;
  /** Devices connected on every node (absent from a hub older than this console). */
  devicesConnected?: number;
  /** C2D sends and settlements since start: this node's, or with `nodes` the sum over them. */
  c2d: { sent: number; completed: number; abandoned: number; rejected: number };
  queues: { enqueued: number; invisible: number };
  devices?: { total: number; enabled: number; disabled: number };
  /** Feedback records no service has taken yet (hub-wide). */
  feedbackRecords?: number;
  /** Telemetry appended since the hub started (absent from a hub older than this console). */
  telemetry?: { messages: number; bytes: number };
  /** Several nodes: each live node's totals (c2d and telemetry are their sums). */
  nodes?: NodeTotals[];
  /** The hub's cumulative latency histograms, seconds (absent from a hub older than this console). */
  latency?: { commit: HistogramSample; delivery: HistogramSample; settle: HistogramSample };
}

export interface StreamHandlers {
  onStats?(s: HubStats): void;
  onFeedback?(r: FeedbackRecord): void;
  /** Connected (true) or lost (false); error set when the hub refused or could not be reached. */
  onState?(connected: boolean, error?: ApiError): void;
}

const RETRY_MS = 2000;

/** Splits `event: x\ndata: y\n\n` blocks; returns the rest that is not complete yet. */
export function parseEvents(text: string, emit: (name: string, data: string) => void): string {
  let end = text.indexOf('\n\n');
  while (end >= 0) {
    let name = 'message';
    const data: string[] = [];
    for (const line of text.slice(0, end).split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (data.length) emit(name, data.join('\n'));
    text = text.slice(end + 2);
    end = text.indexOf('\n\n');
  }
  return text;
}

/** Opens the hub's statistics and feedback stream until the returned function is called. */
export function openEventStream(api: HubApi, handlers: StreamHandlers, deviceId?: string): () => void {
  return openStream(api, '/events', { deviceId }, handlers.onState, (name, data) => {
    if (name === 'stats') handlers.onStats?.(JSON.parse(data) as HubStats);
    else if (name === 'feedback') handlers.onFeedback?.(JSON.parse(data) as FeedbackRecord);
  });
}

/**
 * Reads one of the hub's Server-Sent Events streams, handing each event to `onEvent`, until the
 * returned function is called.
 */
export function openStream(
  api: HubApi,
  path: string,
  query: Record<string, string | undefined>,
  onState: StreamHandlers['onState'],
  onEvent: (name: string, data: string) => void,
): () => void {
  const abort = new AbortController();
  const run = async () => {
    while (!abort.signal.aborted) {
      try {
        const res = await api.call('GET', path, { query, signal: abort.signal });
        onState?.(true);
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        const cancel = () => void reader.cancel().catch(() => {});
        abort.signal.addEventListener('abort', cancel, { once: true });
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer = parseEvents(buffer + value, onEvent);
        }
        abort.signal.removeEventListener('abort', cancel);
        if (!abort.signal.aborted) onState?.(false);
      } catch (err) {
        if (abort.signal.aborted) return;
        const e = err as ApiError;
        onState?.(false, e);
        // A refusal will not change by retrying with the same key.
        if (e.status === 401 || e.status === 403) return;
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  };
  void run();
  return () => abort.abort();
}
