/** One REST call of the service API (JSON in and out, retried by the policy), and IoT Hub's paging. */
import { randomUUID } from 'node:crypto';
import {
  type HttpsTarget,
  httpsCall,
  ok,
  type RetryPolicy,
  realSleep,
  type TokenSource,
  withRetry,
} from '@ferry/common/client';

export interface RestReply<T> {
  value: T;
  headers: Record<string, string | string[] | undefined>;
}

export interface RestRequest {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export async function restCall<T>(
  target: HttpsTarget,
  tokens: TokenSource,
  retry: RetryPolicy,
  r: RestRequest,
): Promise<RestReply<T>> {
  const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
  const reply = await withRetry(
    () =>
      httpsCall(target, {
        method: r.method,
        path: r.path,
        authorization: tokens.token(),
        headers: {
          accept: 'application/json',
          'request-id': randomUUID(),
          ...(payload ? { 'content-type': 'application/json; charset=utf-8' } : {}),
          ...r.headers,
        },
        ...(payload ? { body: payload } : {}),
      }).then(ok),
    retry,
    realSleep,
  );
  const value = (reply.body.length > 0 ? JSON.parse(reply.body.toString('utf8')) : undefined) as T;
  return { value, headers: reply.headers };
}

/** Pages of a query: x-ms-max-item-count asks for a size, x-ms-continuation carries on. */
export async function* pages<T>(
  page: (headers: Record<string, string>) => Promise<RestReply<T[]>>,
  pageSize: number | undefined,
): AsyncGenerator<T[]> {
  let continuation: string | undefined;
  do {
    const headers: Record<string, string> = {};
    if (pageSize !== undefined) headers['x-ms-max-item-count'] = String(pageSize);
    if (continuation !== undefined) headers['x-ms-continuation'] = continuation;
    const reply = await page(headers);
    const next = reply.headers['x-ms-continuation'];
    continuation = typeof next === 'string' ? next : undefined;
    yield reply.value;
  } while (continuation !== undefined);
}
