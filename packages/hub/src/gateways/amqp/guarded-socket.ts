/**
 * The socket rhea is given, with the hub's limits around it: frames bounded before rhea sees
 * them (frame-guard.ts), the protocol header due within connections.firstPacketTimeoutMs, and
 * the peer's reading watched (connections.writeStallTimeoutMs). The connection decides what each
 * breach means; this only detects them.
 */
import type { Duplex } from 'node:stream';
import type { Clock } from '../../clock.js';
import type { ConnectionLimits } from '../../config/types.js';
import type { ConnectionInfo } from '../context.js';
import { WriteStallWatch } from '../write-stall.js';
import { FrameGuard } from './frame-guard.js';
import { RheaSocketAdapter } from './socket-adapter.js';

export interface SocketBreaches {
  /** A frame outside the max-frame-size (rhea got the bytes before it, nothing after). */
  framing(reason: string): void;
  /** No AMQP or SASL header within the first-packet deadline. */
  noHeader(): void;
  /** What the hub writes has not drained within the write-stall deadline. */
  stalled(): void;
}

const HEADER_SIZE = 8;

export function guardedSocket(
  stream: Duplex,
  info: ConnectionInfo,
  opts: { clock: Clock; limits: ConnectionLimits; maxFrameSize: number },
  on: SocketBreaches,
): RheaSocketAdapter {
  const frames = new FrameGuard(opts.maxFrameSize);
  const stall = new WriteStallWatch(stream, opts.clock, opts.limits.writeStallTimeoutMs, () => on.stalled());
  let bytesIn = 0;
  const firstPacket = opts.clock.setTimer(() => {
    if (bytesIn < HEADER_SIZE) on.noHeader();
  }, opts.limits.firstPacketTimeoutMs);
  stream.once('close', () => {
    firstPacket.cancel();
    stall.stop();
  });
  let refused: { reason: string; offset: number } | undefined;
  return new RheaSocketAdapter(stream, `${info.transport}:${info.remoteAddress ?? '?'}`, {
    admit: (chunk) => {
      bytesIn += chunk.length;
      refused = frames.check(chunk);
      return refused ? refused.offset : chunk.length;
    },
    refused: () => on.framing(refused?.reason ?? 'framing error'),
    wrote: (ok) => stall.wrote(ok),
  });
}
