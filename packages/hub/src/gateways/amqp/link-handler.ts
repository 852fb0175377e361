/** What the connection knows of each link it serves (CBS, service send, feedback, device). */
import type { AmqpError } from 'rhea';
import type { Operation } from '../../auth/types.js';

export interface LinkHandler {
  /** What the link needs; re-checked whenever a token expires. undefined: no token needed ($cbs). */
  readonly requires: Operation | undefined;
  /** The peer detached the link or the connection is gone. Idempotent; resolves when leases are back. */
  detached(): Promise<void>;
  /** Detach from the hub side with an error (token expired, link stolen, shutdown). Idempotent. */
  close(error: AmqpError): Promise<void>;
}
