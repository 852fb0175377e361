/**
 * The few rhea 3 internals the gateway relies on, typed in one place so the casts do not spread.
 * Each is a plain field of rhea's link/connection objects (node_modules/rhea/lib/link.js,
 * connection.js); if a rhea upgrade renames one, only this file changes.
 */
import type { Connection, Receiver, Sender } from 'rhea';

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
  /** Size of the frame rhea is currently buffering, when it has read the size but not the frame. */
  frame_size?: number;
  /** Serve the given socket-like object as the accepting side. */
  accept(socket: unknown): Connection;
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

export function bufferedFrameSize(connection: Connection): number {
  return (connection as unknown as ConnectionInternals).frame_size ?? 0;
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
