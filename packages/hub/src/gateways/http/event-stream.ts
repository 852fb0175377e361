/**
 * A read-only Server-Sent Events stream (text/event-stream) of hub statistics and feedback
 * records: `event: stats` at once and then every interval, `event: feedback` per record as it is
 * committed (the hub's most recent records first, so a client may see a record again after a
 * reconnect), and `event: expired` when the caller's SAS token expires (the stream then ends; the
 * client reconnects with a fresh token). A client too slow to read is cut off. `serve` gives the
 * same cap, expiry and back-pressure to other feeds (the live telemetry of console-routes.ts).
 */
import type { ServerResponse } from 'node:http';
import { type FeedbackRecord, FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import type { HubInspector, HubStats } from '../../console/inspector.js';

/** What a stream adds to the inspector's statistics when the caller may read the registry. */
export type StatsExtra = () => Promise<Record<string, unknown>>;

/** Writes one `event: name` with `data` as JSON (nothing once the client is gone). */
export type StreamSend = (event: string, data: unknown) => void;

/** What every stream needs: when the caller's token expires, and where to log. */
export interface StreamBase {
  /** ms since the epoch when the caller's token expires. */
  expiresAt: number;
  clock: Clock;
  log: Logger;
}

export interface EventStreamOptions extends StreamBase {
  inspector: HubInspector;
  intervalMs: number;
  /** Only this device's feedback records. */
  deviceId?: string;
  extra?: StatsExtra;
}

/** Unread bytes past which a client is considered gone. */
const MAX_BUFFERED = 1024 * 1024;
/** Open streams per hub; one more is refused with 429 ThrottlingException. */
export const MAX_STREAMS = 256;
/** setTimeout's limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class EventStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(private readonly maxStreams = MAX_STREAMS) {}

  /** The statistics and feedback stream (GET /events). */
  start(res: ServerResponse, opts: EventStreamOptions): void {
    this.serve(res, opts, (send) => {
      const stats = async () => {
        try {
          const s: HubStats & Record<string, unknown> = {
            ...(await opts.inspector.stats()),
            ...(await opts.extra?.()),
          };
          send('stats', s);
        } catch (err) {
          opts.log.error({ err }, 'event stream: statistics failed');
        }
      };
      const feedback = (records: readonly FeedbackRecord[]) => {
        for (const r of records) if (opts.deviceId === undefined || r.deviceId === opts.deviceId) send('feedback', r);
      };
      feedback(opts.inspector.recentFeedback());
      const unsubscribe = opts.inspector.onFeedbackRecords(feedback);
      const ticker = setInterval(stats, opts.intervalMs).unref();
      void stats();
      return () => {
        clearInterval(ticker);
        unsubscribe();
      };
    });
  }

  /**
   * Opens a stream (at most maxStreams at once) that `attach` feeds through `send` until the
   * client goes or the caller's token expires; `attach` returns what stops its feed.
   */
  serve(res: ServerResponse, opts: StreamBase, attach: (send: StreamSend) => () => void): void {
    if (this.open.size >= this.maxStreams) {
      throw new FerryError('ThrottlingException', `This hub already serves ${this.maxStreams} event streams`);
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    this.open.add(res);
    const send: StreamSend = (event, data) => {
      if (res.writableEnded || res.destroyed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (res.writableLength > MAX_BUFFERED) {
        opts.log.info('event stream client too slow; closing');
        res.destroy();
      }
    };
    // A token valid for longer than a timer can wait gets a later check.
    let expiry = opts.clock.setTimer(
      function check() {
        if (opts.clock.now() < opts.expiresAt) {
          expiry = opts.clock.setTimer(check, Math.min(MAX_TIMER_MS, opts.expiresAt - opts.clock.now()));
          return;
        }
        send('expired', { reason: 'The SAS token expired; reconnect with a new one' });
        res.end();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, opts.expiresAt - opts.clock.now())),
    );
    const detach = attach(send);
    res.once('close', () => {
      expiry.cancel();
      detach();
      this.open.delete(res);
    });
  }

  /** Ends every open stream (the hub is stopping). */
  closeAll(): void {
    for (const res of this.open) res.end();
  }
}
