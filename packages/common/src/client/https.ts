/** One HTTPS call to an IoT hub: api-version added, CA trusted, error answers as FerryErrors. */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { errorFromHttp, socketError } from './client-errors.js';

export const API_VERSION = '2021-04-12';

export interface HttpsTarget {
  host: string;
  /** 443 unless a Ferry hub listens elsewhere. */
  port: number;
  /** PEM text of the CA(s) to trust; given, it replaces the system's (Node's rule). */
  ca?: string | Buffer | undefined;
}

export interface HttpsCall {
  method: string;
  /** Path and query without api-version, which is added. */
  path: string;
  authorization: string;
  headers?: Record<string, string | number>;
  body?: Buffer;
  /** Give up on a silent hub after this long (default 60 s): a transient error. */
  timeoutMs?: number;
}

export interface HttpsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function httpsCall(target: HttpsTarget, call: HttpsCall): Promise<HttpsReply> {
  const { body } = call;
  const where = `${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        method: call.method,
        path: `${call.path}${call.path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`,
        ...(target.ca ? { ca: target.ca } : {}),
        // A fresh connection per call: a poll loop never races the hub closing an idle socket.
        agent: false,
        headers: {
          authorization: call.authorization,
          ...(body ? { 'content-length': body.length } : {}),
          ...call.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', (err) => reject(socketError(where, err)));
      },
    );
    req.setTimeout(call.timeoutMs ?? 60_000, () =>
      req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (err) => reject(socketError(where, err)));
    req.end(body);
  });
}

/** The reply when it is a success (2xx); its IoT Hub error otherwise. */
export function ok(reply: HttpsReply): HttpsReply {
  if (reply.status >= 200 && reply.status <= 299) return reply;
  const code = reply.headers['iothub-errorcode'];
  throw errorFromHttp(reply.status, typeof code === 'string' ? code : undefined, reply.body);
}
