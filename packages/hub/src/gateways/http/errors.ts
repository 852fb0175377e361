/**
 * The one place an error becomes an HTTP answer: status from the error table, header
 * `iothub-errorcode: <Name>`, and the legacy body the Node SDK parses
 * (`Message` = `ErrorCode:<Name>;<text>`; spec c2d-semantics.md 6.3, official-sdk-wire.md D.2).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { toFerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';

export interface HttpErrorBody {
  Message: string;
  ExceptionMessage: string;
}

export function errorBody(name: string, text: string, trackingId: string, nowMs: number): HttpErrorBody {
  return {
    Message: `ErrorCode:${name};${text}`,
    ExceptionMessage: `Tracking ID:${trackingId}-TimeStamp:${new Date(nowMs).toISOString()}`,
  };
}

export function sendError(
  res: ServerResponse,
  err: unknown,
  log: Logger,
  clock: Clock,
  extraHeaders: Record<string, string> = {},
): void {
  const fe = toFerryError(err);
  const trackingId = randomUUID();
  // ServerBusy (storage failing) is logged once by the storage health check, not per request.
  if (fe.errorName === 'ServerBusy') log.debug({ trackingId, reason: fe.message }, 'request refused: storage failing');
  else if (fe.httpStatus >= 500) log.error({ err, trackingId, code: fe.errorName }, 'request failed');
  else log.info({ code: fe.errorName, status: fe.httpStatus, reason: fe.message, trackingId }, 'request refused');
  if (res.headersSent) {
    // Too late for a status: cut the response so the client does not take it as complete.
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(fe.errorName, fe.message.replace(/[\r\n]+/g, ' '), trackingId, clock.now()));
  res.writeHead(fe.httpStatus, {
    ...extraHeaders,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'iothub-errorcode': fe.errorName,
  });
  res.end(body);
}
