/**
 * The hub's non-consuming feedback view (a Ferry extension: `GET /events`, the stream the web
 * console reads): the records the hub made recently (up to 100 since it started), then each
 * new one as it is committed. Reading it takes nothing from the feedback queue, so other back
 * ends still get every batch. `ferry message send --wait` and `ferry feedback --device
 * --message-id` use it; `ferry feedback` without them takes batches from the queue as IoT Hub's
 * back ends do.
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { createSasToken, type FeedbackRecord } from '@ferry/common';
import { errorFromHttp, socketError } from '@ferry/common/client';
import type { HubTarget } from './target.js';

export interface FeedbackFilter {
  deviceId?: string;
  messageId?: string;
}

export interface FeedbackView {
  /** Resolves once the records the hub had already made have been read (they were matched first). */
  readonly caughtUp: Promise<void>;
  /** The next matching record, or undefined when `ms` pass (or the stream ends) first. */
  next(ms: number): Promise<FeedbackRecord | undefined>;
  close(): void;
}

function token(target: HubTarget): string {
  const { cs } = target;
  return createSasToken({
    resourceUri: cs.hostName,
    key: cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    expiry: Math.floor(Date.now() / 1000) + 24 * 3600,
    encode: false,
  });
}

function matches(r: FeedbackRecord, f: FeedbackFilter): boolean {
  return (
    (f.deviceId === undefined || r.deviceId === f.deviceId) &&
    (f.messageId === undefined || r.originalMessageId === f.messageId)
  );
}

/** Opens the stream; rejects with the hub's error (e.g. IotHubUnauthorizedAccess without ServiceConnect). */
export function openFeedbackView(target: HubTarget, filter: FeedbackFilter): Promise<FeedbackView> {
  const host = target.cs.hostName;
  const port = target.ports.https ?? 443;
  const query = filter.deviceId === undefined ? '' : `&deviceId=${encodeURIComponent(filter.deviceId)}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        method: 'GET',
        path: `/events?api-version=2021-04-12${query}`,
        ...(target.ca ? { ca: target.ca } : {}),
        agent: false,
        headers: { authorization: token(target), accept: 'text/event-stream' },
      },
      (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const code = res.headers['iothub-errorcode'];
            reject(
              errorFromHttp(res.statusCode ?? 0, typeof code === 'string' ? code : undefined, Buffer.concat(chunks)),
            );
          });
          return;
        }
        resolve(view(res, filter, () => req.destroy()));
      },
    );
    req.on('error', (err) => reject(socketError(`${host}:${port}`, err)));
    req.end();
  });
}

function view(res: IncomingMessage, filter: FeedbackFilter, destroy: () => void): FeedbackView {
  const queue: FeedbackRecord[] = [];
  let waiter: (() => void) | undefined;
  let ended = false;
  let markCaughtUp!: () => void;
  const caughtUp = new Promise<void>((r) => {
    markCaughtUp = r;
  });
  let text = '';
  const wake = () => {
    waiter?.();
    waiter = undefined;
  };
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    text += chunk;
    for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      // The recent records come first, then the first statistics: from there on, all is new.
      if (event === 'stats') markCaughtUp();
      if (event === 'feedback' && data !== undefined) {
        const record = JSON.parse(data) as FeedbackRecord;
        if (matches(record, filter)) queue.push(record);
      }
    }
    wake();
  });
  const finish = () => {
    ended = true;
    markCaughtUp();
    wake();
  };
  res.on('end', finish);
  res.on('close', finish);
  res.on('error', finish);
  return {
    caughtUp,
    async next(ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const got = queue.shift();
        if (got) return got;
        const left = deadline - Date.now();
        if (ended || left <= 0) return undefined;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    close() {
      ended = true;
      destroy();
      wake();
    },
  };
}

/** Success is the only good outcome: Expired, DeliveryCountExceeded, Rejected and Purged are not. */
export function isPositive(r: FeedbackRecord): boolean {
  return r.statusCode === 'Success';
}
