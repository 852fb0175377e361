/**
 * Ferry's send extension: `POST /devices/{id}/messages/deviceBound` with a ServiceConnect SAS,
 * so a back end can send without AMQP. Body = payload; system properties in iothub-* headers.
 * Answered 204 only after the engine committed the message (DESIGN.md "Durability").
 * Documented in ./README.md.
 */
import type { IncomingMessage } from 'node:http';
import { headerReader, messageFromSendHeaders, type OutgoingMessage } from '@ferry/common';
import { parseIsoDateTime } from '../../iso-date.js';
import { readBody } from './body.js';
import { sendNoContent } from './respond.js';
import type { Route } from './router.js';

/** Everything but the body, from the request headers (the mapping in @ferry/common). Throws ArgumentInvalid on a bad ack or expiry. */
export function messageFromHeaders(req: IncomingMessage): Omit<OutgoingMessage, 'body'> {
  // Issue 13: no id is made up for the sender (decision 5: a message may have none).
  return messageFromSendHeaders(Object.keys(req.headers), headerReader(req.headers), parseIsoDateTime);
}

export const sendRoute: Route = {
  method: 'POST',
  path: '/devices/{id}/messages/deviceBound',
  operation: () => ({ permission: 'ServiceConnect' }),
  async handle({ ctx, req, res, params, log, principal }) {
    const id = params.id!;
    const fields = messageFromHeaders(req);
    const limit = Math.min(ctx.config.http.maxBodyBytes, ctx.config.c2d.maxMessageSize);
    const message: OutgoingMessage = { ...fields, body: await readBody(req, limit) };
    const origin = principal.kind === 'policy' ? { policy: principal.policyName } : undefined;
    const result = await ctx.engine.send(id, message, origin);
    const messageId = result.messageId ?? message.messageId;
    log.debug({ deviceId: id, messageId, sequenceNumber: result.sequenceNumber }, 'message enqueued');
    sendNoContent(res, messageId === undefined ? {} : { 'iothub-messageid': messageId });
  },
};
