/**
 * FerryError -> AMQP error, in one place. The condition comes from the error table in
 * @ferry/common (err.amqpCondition); the few AMQP-only conditions below have no IoT Hub code.
 */
import { type ErrorName, FerryError, toFerryError } from '@ferry/common';
import type { AmqpError } from 'rhea';

/** A transfer arrived on a link that had no credit (AMQP 1.0 2.8.4.2 / 2.6.7). */
export const TRANSFER_LIMIT_EXCEEDED = 'amqp:link:transfer-limit-exceeded';
/** A per-connection cap (connections, links) or the idle time-out. */
export const RESOURCE_LIMIT_EXCEEDED = 'amqp:resource-limit-exceeded';
/** The hub closes the connection (shutdown). */
export const CONNECTION_FORCED = 'amqp:connection:forced';
export const NOT_IMPLEMENTED = 'amqp:not-implemented';
/** A frame or message that cannot be decoded (AMQP 1.0 2.8.15). */
export const DECODE_ERROR = 'amqp:decode-error';
/** A frame that breaks a rule of the protocol, e.g. a delivery without its id (AMQP 1.0 2.8.15). */
export const INVALID_FIELD = 'amqp:invalid-field';
/** A frame outside the negotiated limits (AMQP 1.0 2.8.16). */
export const FRAMING_ERROR = 'amqp:connection:framing-error';

/** The AMQP error for anything thrown; unknown failures become amqp:internal-error without leaking details. */
export function toAmqpError(err: unknown): AmqpError {
  const fe = toFerryError(err);
  return { condition: fe.amqpCondition, description: fe.message };
}

export function amqpError(name: ErrorName, description?: string): AmqpError {
  return toAmqpError(new FerryError(name, description));
}
