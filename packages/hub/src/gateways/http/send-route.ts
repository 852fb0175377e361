/**
 * Ferry's send extension: `POST /devices/{id}/messages/deviceBound` with a ServiceConnect SAS,
 * so a back end can send without AMQP. Body = payload; system properties in iothub-* headers.
 * Answered 204 only after the engine committed the message (DESIGN.md "Durability").
 * Documented in ./README.md.
 */
import type { IncomingMessage } from 'node:http';
import { ACK_VALUES, type Ack, FerryError, type OutgoingMessage } from '@ferry/common';
import { readBody } from './body.js';
import { header } from './headers.js';
import { parseIsoDateTime } from './iso-date.js';
import { sendNoContent } from './respond.js';
import type { Route } from './router.js';

const APP_PREFIX = 'iothub-app-';

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/** Everything but the body, from the request headers. Throws ArgumentInvalid on a bad ack or expiry. */
export function messageFromHeaders(req: IncomingMessage): Omit<OutgoingMessage, 'body'> {
  const ackText = nonEmpty(header(req, 'iothub-ack'));
  let ack: Ack | undefined;
  if (ackText !== undefined) {
    ack = ACK_VALUES.find((a) => a === ackText);
    if (!ack)
      throw new FerryError(
        'ArgumentInvalid',
        `iothub-ack must be one of ${ACK_VALUES.join(', ')}; got "${ackText.slice(0, 40)}"`,
      );
  }
  const expiryText = nonEmpty(header(req, 'iothub-expiry'));
  let expiryTimeUtc: number | undefined;
  if (expiryText !== undefined) {
    expiryTimeUtc = parseIsoDateTime(expiryText);
    if (expiryTimeUtc === undefined) {
      throw new FerryError(
        'ArgumentInvalid',
        `iothub-expiry must be an ISO 8601 date-time; got "${expiryText.slice(0, 40)}"`,
      );
    }
  }
  const properties: Record<string, string> = {};
  for (const name of Object.keys(req.headers)) {
    if (!name.startsWith(APP_PREFIX)) continue;
    // Node lower-cases header names; they are kept as received.
    const key = name.slice(APP_PREFIX.length);
    if (key === '')
      throw new FerryError('ArgumentInvalid', 'An iothub-app- header needs a property name after the prefix');
    properties[key] = header(req, name) ?? '';
  }
  return {
    // Issue 13: no id is made up for the sender (decision 5: a message may have none).
    messageId: nonEmpty(header(req, 'iothub-messageid')),
    correlationId: nonEmpty(header(req, 'iothub-correlationid')),
    userId: nonEmpty(header(req, 'iothub-userid')),
    contentType: nonEmpty(header(req, 'content-type')),
    contentEncoding: nonEmpty(header(req, 'content-encoding')),
    ack,
    expiryTimeUtc,
    properties,
  };
}

export const sendRoute: Route = {
  method: 'POST',
  path: '/devices/{id}/messages/deviceBound',
  operation: () => ({ permission: 'ServiceConnect' }),
  async handle({ ctx, req, res, params, log }) {
    const id = params.id!;
    const fields = messageFromHeaders(req);
    const limit = Math.min(ctx.config.http.maxBodyBytes, ctx.config.c2d.maxMessageSize);
    const message: OutgoingMessage = { ...fields, body: await readBody(req, limit) };
    const result = await ctx.engine.send(id, message);
    const messageId = result.messageId ?? message.messageId;
    log.debug({ deviceId: id, messageId, sequenceNumber: result.sequenceNumber }, 'message enqueued');
    sendNoContent(res, messageId === undefined ? {} : { 'iothub-messageid': messageId });
  },
};
