/** Errors the patched rhea throws for input it cannot take; the connection answers each with its AMQP condition. */

/** A frame or message that cannot be decoded (AMQP 1.0 2.8.15 amqp:decode-error). */
export class AmqpDecodeError extends Error {
  override readonly name = 'AmqpDecodeError';
}

/**
 * A frame that decodes but breaks a rule of the protocol the hub relies on (AMQP 1.0 2.8.15
 * amqp:invalid-field), such as a transfer that starts a delivery without its delivery-id.
 */
export class AmqpInvalidFieldError extends Error {
  override readonly name = 'AmqpInvalidFieldError';
}
