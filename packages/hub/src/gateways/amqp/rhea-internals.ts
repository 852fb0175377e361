/**
 * The few rhea 3 internals the gateway relies on, typed in one place so the casts do not spread.
 * Each is a plain field of rhea's link/connection objects (node_modules/rhea/lib/link.js,
 * connection.js); if a rhea upgrade renames one, only this file changes.
 */
import type { AmqpError, Connection, Receiver, Sender } from 'rhea';

interface LinkCounters {
  /** Link credit as rhea tracks it (peer-granted for a sender, self-granted for a receiver). */
  credit: number;
  /** Transfers actually written (sender) or received (receiver). */
  delivery_count: number;
}

interface LinkState {
  /** rhea's EndpointState (rhea/lib/endpoint.js): whether our attach is requested and still to write. */
  state: { local_open: boolean; open_requests: number };
}

interface ConnectionInternals {
  /** The AMQP layer (below SASL); its header_received is set once the peer's AMQP header is read. */
  amqp_transport: { header_received?: unknown };
  state: { initialised: boolean };
  /** Serve the given socket-like object as the accepting side. */
  accept(socket: unknown): Connection;
  /** Writes whatever open/close/session work is pending, now. */
  _process(): void;
}

/** How many more transfers may be handed to rhea now: peer credit minus what rhea has queued but not written. */
export function senderCapacity(sender: Sender, handedToRhea: number): number {
  const c = sender as unknown as LinkCounters;
  const unsent = handedToRhea - c.delivery_count;
  return Math.max(0, c.credit - unsent);
}

/** Credit the peer still holds on a receiving link. */
export function receiverCredit(receiver: Receiver): number {
  return (receiver as unknown as LinkCounters).credit;
}

/**
 * Closes the connection with `error` and writes the close frame now (our open first, if it never
 * went out: AMQP 1.0 2.4.5), so it reaches the socket before rhea ends it. False when the peer
 * is still in the SASL layer or before its AMQP header, where no close frame can be sent.
 */
export function closeNow(connection: Connection, error?: AmqpError): boolean {
  const c = connection as unknown as ConnectionInternals;
  if (!c.amqp_transport.header_received) return false;
  if (!c.state.initialised) connection.open();
  connection.close(error);
  c._process();
  return true;
}

export function acceptSocket(connection: Connection, socket: unknown): void {
  (connection as unknown as ConnectionInternals).accept(socket);
}

/**
 * rhea answers a peer's attach at once (link.open() before 'sender_open' is dispatched; the frame
 * goes out on the next tick). This takes that request back so an asynchronous check can decide
 * first; call the returned function (it opens the link) before accepting or refusing it.
 */
export function holdAttach(link: Sender | Receiver): () => void {
  const { state } = link as unknown as LinkState;
  if (state.local_open) {
    state.local_open = false;
    state.open_requests = Math.max(0, state.open_requests - 1);
  }
  return () => link.open();
}
