/**
 * Three fixes to rhea 3.0.5 and one saving (and a fourth fix in rhea-link-names.ts), carried in the project and applied when the AMQP gateway
 * loads (to the one rhea module instance every import shares). They replace rhea internals, checked on install:
 * a rhea upgrade that renames them fails loudly at start instead of silently losing the fix.
 *
 * 1. Dispositions. rhea's session writes settled deliveries as ranges `first..last`, but while a
 *    range holds one delivery it does not compare the next one's outcome: an accepted transfer and
 *    a rejected one settled in the same tick went out as one `accepted` range (issue 7: stored
 *    sends reported refused, refused sends reported stored). Here every range holds deliveries
 *    with the same outcome; only `accepted` (stateless) outcomes are merged, as rhea intends.
 * 2. Decoding. rhea reads a compound or array count without checking it against the bytes that
 *    are there: an array32 of 0x7fffffff `null`s (zero bytes each) loops without consuming input
 *    and exhausts memory. Here a count must fit the bytes present (zero-width elements charged one
 *    byte of the frame each), nesting is bounded, and any failure to decode a frame or a message
 *    throws an AmqpDecodeError, which the connection answers with `amqp:decode-error`.
 * 3. Transfers. A transfer that starts a delivery must carry its delivery-id (AMQP 1.0 2.7.5): rhea
 *    takes a missing one as `undefined`, and the disposition that settles that delivery cannot be
 *    encoded (rhea throws outside any handler, and the hub process exits). Here such a transfer
 *    throws an AmqpInvalidFieldError, which closes its connection with `amqp:invalid-field`.
 * 4. Logging. rhea calls its `debug` loggers on every frame, which builds an argument list even
 *    when the logger is off. A logger that DEBUG does not turn on when the hub starts becomes a
 *    no-op (so DEBUG=rhea* must be set before start, as usual for `debug`).
 */
import { createRequire } from 'node:module';
import { AmqpDecodeError, AmqpInvalidFieldError } from './frame-errors.js';
import { patchLinkNames } from './rhea-link-names.js';

const require = createRequire(import.meta.url);

export { AmqpDecodeError, AmqpInvalidFieldError } from './frame-errors.js';

/** Described values nested deeper than this are refused (no real AMQP peer nests beyond a handful). */
export const MAX_DECODE_DEPTH = 64;

interface RheaDelivery {
  id: number;
  settled: boolean;
  remote_settled: boolean;
  state?: { descriptor: { value: unknown } };
  link: {
    is_receiver(): boolean;
    session: { output(frame: unknown): void };
    connection: { _register(): void };
  };
}

interface DeliveryQueue {
  /** Our own list of deliveries whose local state changed since the last write. */
  ferryPending?: RheaDelivery[];
  process(...args: unknown[]): void;
  on_transfer?(frame: { performative: { delivery_id?: unknown } }, receiver?: { _incomplete?: unknown }): void;
  update(delivery: RheaDelivery | undefined, settled: boolean, state?: unknown): void;
}

interface Reader {
  buffer: Buffer;
  position: number;
  ferryZeroWidthBudget?: number;
  ferryDepth?: number;
  remaining(): number;
  read(): unknown;
  read_uint(width: number): number;
  read_constructor(): { typecode: number; descriptor?: unknown };
  read_n(n: number): unknown[];
  read_array_items(n: number, type: RheaType): unknown[];
}

interface RheaType {
  width: number;
  category: number;
  create(...args: unknown[]): unknown;
}

const ACCEPTED = 0x24;
let installed = false;

/** Applies the fixes once; throws when rhea's internals are not the ones they were written for. */
export function installRheaPatches(): void {
  if (installed) return;
  patchDispositions();
  patchDecoder();
  patchLinkNames();
  silenceIdleLoggers();
  installed = true;
}

function silenceIdleLoggers(): void {
  const log = require('rhea/lib/log.js') as Record<string, ((...args: unknown[]) => void) & { enabled?: boolean }>;
  const names = ['frames', 'raw', 'events', 'message', 'flow', 'io'];
  for (const name of names) {
    const logger = log[name];
    // `enabled` is a getter of debug's loggers (undefined until DEBUG names something).
    if (typeof logger !== 'function' || !('enabled' in logger)) {
      throw new Error(`rhea internals changed: lib/log.js has no debug logger "${name}" (review rhea-patches.ts)`);
    }
    if (!logger.enabled) log[name] = () => undefined;
  }
}

function sameOutcome(a: RheaDelivery['state'], b: RheaDelivery['state']): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.descriptor.value === ACCEPTED && b.descriptor.value === ACCEPTED;
}

/** Writes one disposition per run of consecutive ids with the same settled flag and outcome. */
export function writeDispositions(deliveries: readonly RheaDelivery[], disposition: (f: object) => unknown): void {
  let first: RheaDelivery | undefined;
  let last: RheaDelivery | undefined;
  const flush = () => {
    if (!first || !last) return;
    const frame = disposition({
      role: first.link.is_receiver(),
      first: first.id,
      last: last.id,
      state: first.state,
      settled: first.settled,
    });
    first.link.session.output(frame);
  };
  for (const d of deliveries) {
    if (d === last) continue; // updated twice before this write: its latest state goes out once
    if (!Number.isInteger(d.id)) continue; // no id to name it by (refused at its transfer; never here)
    if (
      first &&
      last &&
      d.id === last.id + 1 &&
      d.link.session === first.link.session &&
      d.settled === first.settled &&
      sameOutcome(first.state, d.state)
    ) {
      last = d;
      continue;
    }
    flush();
    first = d;
    last = d;
  }
  flush();
}

function patchDispositions(): void {
  const Session = require('rhea/lib/session.js') as new (
    connection: unknown,
    channel: number,
  ) => {
    incoming: DeliveryQueue & { updated?: unknown[] };
    outgoing: DeliveryQueue & { pending_dispositions?: unknown[] };
  };
  const frames = require('rhea/lib/frames.js') as { disposition(fields: object): unknown };
  const probe = new Session({}, 0);
  const incoming = Object.getPrototypeOf(probe.incoming) as DeliveryQueue;
  const outgoing = Object.getPrototypeOf(probe.outgoing) as DeliveryQueue;
  if (
    !Array.isArray(probe.incoming.updated) ||
    !Array.isArray(probe.outgoing.pending_dispositions) ||
    typeof incoming.process !== 'function' ||
    typeof incoming.on_transfer !== 'function' ||
    typeof outgoing.process !== 'function' ||
    typeof frames.disposition !== 'function'
  ) {
    throw new Error('rhea internals changed: the disposition fix (rhea-patches.ts) no longer applies');
  }
  const disposition = (f: object) => frames.disposition(f);
  // rhea's own update, except that the delivery goes to our list, which rhea's writer never sees.
  const update: DeliveryQueue['update'] = function (this: DeliveryQueue, delivery, settled, state) {
    if (!delivery) return;
    delivery.settled = settled;
    if (state !== undefined) delivery.state = state as RheaDelivery['state'];
    if (!delivery.remote_settled) {
      this.ferryPending ??= [];
      this.ferryPending.push(delivery);
    }
    delivery.link.connection._register();
  };
  const drain = (queue: DeliveryQueue) => {
    const pending = queue.ferryPending;
    if (!pending || pending.length === 0) return;
    queue.ferryPending = [];
    writeDispositions(pending, disposition);
  };
  const incomingProcess = incoming.process;
  incoming.update = update;
  // Same order as rhea: dispositions first, then the flow the session may owe.
  incoming.process = function (this: DeliveryQueue, ...args: unknown[]) {
    drain(this);
    incomingProcess.apply(this, args);
  };
  const incomingTransfer = incoming.on_transfer!;
  incoming.on_transfer = function (this: DeliveryQueue, frame, receiver) {
    if (!receiver?._incomplete && !Number.isInteger(frame.performative.delivery_id)) {
      throw new AmqpInvalidFieldError('a transfer that starts a delivery must carry its delivery-id');
    }
    incomingTransfer.call(this, frame, receiver);
  };
  const outgoingProcess = outgoing.process;
  outgoing.update = update;
  // Same order as rhea: transfers and outcome events first (their handlers may settle), then dispositions.
  outgoing.process = function (this: DeliveryQueue, ...args: unknown[]) {
    outgoingProcess.apply(this, args);
    drain(this);
  };
}

function patchDecoder(): void {
  const types = require('rhea/lib/types.js') as {
    Reader: { prototype: Reader };
    by_code: Record<number, RheaType | undefined>;
  };
  const frames = require('rhea/lib/frames.js') as { read_frame(buffer: Buffer): unknown };
  const message = require('rhea/lib/message.js') as { decode(buffer: Buffer): unknown };
  const reader = types.Reader.prototype;
  if (
    typeof reader.read !== 'function' ||
    typeof reader.read_n !== 'function' ||
    typeof reader.read_array_items !== 'function' ||
    typeof frames.read_frame !== 'function' ||
    typeof message.decode !== 'function'
  ) {
    throw new Error('rhea internals changed: the decoder guard (rhea-patches.ts) no longer applies');
  }
  const typeOf = (code: number): RheaType => {
    const t = types.by_code[code];
    if (!t) throw new AmqpDecodeError(`Unknown AMQP type code 0x${code.toString(16)}`);
    return t;
  };
  /** Size and count of a compound or array, checked against the bytes that follow. */
  const sizeAndCount = (r: Reader, width: number): { size: number; count: number } => {
    const size = r.read_uint(width);
    if (size < width || size > r.remaining()) throw new AmqpDecodeError(`Encoded size ${size} exceeds the frame`);
    return { size, count: r.read_uint(width) };
  };
  const originalRead = reader.read;
  reader.read = function (this: Reader) {
    const depth = (this.ferryDepth ?? 0) + 1;
    if (depth > MAX_DECODE_DEPTH) throw new AmqpDecodeError('AMQP value nested too deeply');
    this.ferryDepth = depth;
    try {
      return originalRead.call(this);
    } finally {
      this.ferryDepth = depth - 1;
    }
  };
  const replace = reader as unknown as Record<string, (this: Reader, type: RheaType) => unknown>;
  replace.read_compound = function (type) {
    const { size, count } = sizeAndCount(this, type.width);
    // Every element of a list or map takes at least one byte (its constructor).
    if (count > size - type.width)
      throw new AmqpDecodeError(`Element count ${count} exceeds the ${size} bytes encoded`);
    return type.create(this.read_n(count));
  };
  replace.read_array = function (type) {
    const { size, count } = sizeAndCount(this, type.width);
    const start = this.position;
    const head = this.read_constructor();
    const element = typeOf(head.typecode);
    if (element.width === 0) {
      // Elements of no width (null, true, false, uint0, ulong0, list0) take no bytes at all:
      // charge each one byte of the frame, so one frame yields at most as many as it has bytes.
      const budget = this.ferryZeroWidthBudget ?? this.buffer.length;
      if (count > budget) throw new AmqpDecodeError(`Array of ${count} empty elements exceeds the frame`);
      this.ferryZeroWidthBudget = budget - count;
    } else if (count * element.width > size - type.width - (this.position - start)) {
      throw new AmqpDecodeError(`Array count ${count} exceeds the bytes encoded`);
    }
    return type.create(this.read_array_items(count, element), head.typecode, head.descriptor);
  };
  const wrap = <A extends unknown[], R>(fn: (...a: A) => R) =>
    function (this: unknown, ...args: A): R {
      try {
        return fn.apply(this, args);
      } catch (err) {
        // rhea's ProtocolError (bad data offset, unknown frame type) is a framing error: leave it.
        if (err instanceof AmqpDecodeError || (err as Error)?.name === 'ProtocolError') throw err;
        throw new AmqpDecodeError(`Malformed AMQP encoding: ${(err as Error)?.message ?? String(err)}`, {
          cause: err,
        });
      }
    };
  frames.read_frame = wrap(frames.read_frame);
  message.decode = wrap(message.decode);
}
