/**
 * Frame-level view of an AMQP byte stream for tests: splits it into protocol headers and frames
 * and decodes each with rhea's own frame codec, so a test can assert on what went on the wire
 * (every disposition, with its range and outcome) rather than on what a client library made of it.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as {
  read_frame(b: Buffer): { type: number; channel: number; performative?: Performative } | null;
};
const message = require('rhea/lib/message.js') as { unwrap_outcome(o: unknown): { error?: { condition?: string } } };

interface Performative {
  constructor: { descriptor?: { numeric: number } };
  [field: string]: unknown;
}

const DISPOSITION = 0x15;
const CLOSE = 0x18;

/** Every frame in a stream that starts with a protocol header; trailing partial bytes are ignored. */
export function readFrames(stream: Buffer): Performative[] {
  const out: Performative[] = [];
  let i = 0;
  while (i + 8 <= stream.length) {
    if (stream.subarray(i, i + 4).toString('latin1') === 'AMQP') {
      i += 8;
      continue;
    }
    const size = stream.readUInt32BE(i);
    if (i + size > stream.length) break;
    const f = frames.read_frame(stream.subarray(i, i + size));
    if (f?.performative) out.push(f.performative);
    i += size;
  }
  return out;
}

export interface WireDisposition {
  first: number;
  last: number;
  settled: boolean;
  outcome: 'accepted' | 'rejected' | 'released' | 'modified' | 'none';
  condition?: string;
}

const OUTCOMES: Record<number, WireDisposition['outcome']> = {
  36: 'accepted',
  37: 'rejected',
  38: 'released',
  39: 'modified',
};

export function dispositions(stream: Buffer): WireDisposition[] {
  return readFrames(stream)
    .filter((p) => p.constructor.descriptor?.numeric === DISPOSITION)
    .map((p) => {
      const state = p.state as { descriptor?: { value: number } } | undefined;
      const code = state?.descriptor?.value;
      const outcome = code === undefined ? 'none' : (OUTCOMES[code] ?? 'none');
      const condition = state ? message.unwrap_outcome(state).error?.condition : undefined;
      const first = p.first as number;
      return {
        first,
        last: (p.last as number | undefined) ?? first,
        settled: p.settled === true,
        outcome,
        ...(condition ? { condition } : {}),
      };
    });
}

/** The error of the close frame in the stream, if any. */
export function closeError(stream: Buffer): { condition?: string; description?: string } | undefined {
  const close = readFrames(stream).find((p) => p.constructor.descriptor?.numeric === CLOSE);
  return close ? ((close.error as { condition?: string; description?: string } | undefined) ?? {}) : undefined;
}

/** Everything written to `socket` from now on (a server-side socket: what the hub sends). */
export function tapWrites(socket: Socket): { bytes(): Buffer } {
  const chunks: Buffer[] = [];
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (Buffer.isBuffer(chunk)) chunks.push(Buffer.from(chunk));
    else if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    return write(chunk, ...rest);
  }) as Socket['write'];
  return { bytes: () => Buffer.concat(chunks) };
}

/** Which outcome the wire gave each delivery id (throws when one id got two different answers). */
export function outcomeById(list: readonly WireDisposition[]): Map<number, WireDisposition> {
  const byId = new Map<number, WireDisposition>();
  for (const d of list) {
    for (let id = d.first; id <= d.last; id++) {
      const prev = byId.get(id);
      if (prev && (prev.outcome !== d.outcome || prev.condition !== d.condition)) {
        throw new Error(`delivery ${id} was answered twice: ${prev.outcome} then ${d.outcome}`);
      }
      byId.set(id, d);
    }
  }
  return byId;
}
