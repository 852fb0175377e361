/**
 * HTTPS answers each request on its own, so a client retrying with a refused credential in a loop
 * would write one "request refused" line per request. Authentication and authorization refusals
 * (401, 403) go through the hub-wide count by device and cause (../refusal-throttle.ts): the first
 * ones are logged, the rest summarised.
 */
import type { IncomingMessage } from 'node:http';
import { toFerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { GatewayContext } from '../context.js';
import { deviceOfPath } from './authenticate.js';

/** The logger to answer `err` with: `log`, or one that keeps only warnings and errors. */
export function refusalLogger(
  ctx: GatewayContext,
  req: IncomingMessage,
  rawPath: string,
  err: unknown,
  log: Logger,
): Logger {
  if (!ctx.refusals) return log;
  const fe = toFerryError(err);
  if (fe.httpStatus !== 401 && fe.httpStatus !== 403) return log;
  const device = deviceOfPath(rawPath) ?? req.socket.remoteAddress ?? 'unknown';
  return ctx.refusals.admit(device, fe.errorName) ? log : log.child({}, { level: 'warn' });
}
