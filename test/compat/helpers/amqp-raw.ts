/**
 * A raw AMQP 1.0 peer for end-to-end tests: builds frames with rhea's own codec and writes them
 * exactly as the test says (many frames in one write, malformed bytes), over TLS on 5671 or the
 * AMQPWSB10 WebSocket on 443, and keeps every frame the hub sends for the test to inspect.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import rhea, { type Message } from 'rhea';
import { createWebSocketStream, WebSocket } from 'ws';
import type { HubProcess } from '../harness.js';
import { withTimeout } from './wait.js';

const require = createRequire(import.meta.url);
const frames = require('rhea/lib/frames.js') as Record<string, (...a: unknown[]) => unknown> & {
  write_frame(f: unknown): Buffer;
  read_frame(b: Buffer): { performative?: Performative } | null;
};
const terminus = require('rhea/lib/terminus.js') as Record<string, (f: object) => { described(): unknown }>;

export interface Performative {
  constructor: { descriptor?: { numeric: number } };
  [field: string]: unknown;
}

export const CODE = {
  saslMechanisms: 0x40,
  saslOutcome: 0x44,
  open: 0x10,
  attach: 0x12,
  flow: 0x13,
  disposition: 0x15,
  detach: 0x16,
  close: 0x18,
} as const;

export function header(protocolId: 0 | 3): Buffer {
  return Buffer.from([0x41, 0x4d, 0x51, 0x50, protocolId, 1, 0, 0]);
}

export function saslFrame(name: string, fields: object): Buffer {
  return frames.write_frame(frames.sasl_frame!(frames[name]!(fields)));
}

export function amqpFrame(name: string, fields: object, payload?: Buffer): Buffer {
  return frames.write_frame(frames.amqp_frame!(0, frames[name]!(fields), payload));
}

/** A service sender link to /messages/devicebound (role false = sender). */
export function attachSender(handle: number, address: string): Buffer {
  return amqpFrame('attach', {
    name: `raw-${handle}`,
    handle,
    role: false,
    source: terminus.source!({ address: `raw-${handle}` }).described(),
    target: terminus.target!({ address }).described(),
    initial_delivery_count: 0,
  });
}

/** A C2D message as the service SDK sends it. */
export function c2d(deviceId: string, body: string): Message {
  return {
    to: `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`,
    body: rhea.message.data_section(Buffer.from(body)),
  };
}

export function transfer(handle: number, deliveryId: number, msg: Message): Buffer {
  const payload = rhea.message.encode(msg) as unknown as Buffer;
  const tag = Buffer.alloc(4);
  tag.writeUInt32BE(deliveryId);
  return amqpFrame(
    'transfer',
    { handle, delivery_id: deliveryId, delivery_tag: tag, message_format: 0, settled: false },
    payload,
  );
}

export class RawAmqp {
  readonly performatives: Performative[] = [];
  /** No deadline of its own: await it with withTimeout. */
  readonly closed: Promise<void>;
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private ended = false;
  /** Frames before this index were consumed by next(). */
  private cursor = 0;
  private constructor(readonly stream: Duplex) {
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    // The hub's end counts as closed (a WebSocket stream emits 'close' only once both sides ended).
    this.closed = new Promise((resolve) => {
      stream.once('close', () => resolve());
      stream.once('end', () => resolve());
    });
    void this.closed.then(() => {
      this.ended = true;
      this.wake();
    });
  }

  /** TLS to the hub's AMQP port (5671). */
  static async tls(hub: HubProcess): Promise<RawAmqp> {
    const socket = tlsConnect({ host: hub.address, port: 5671, ca: readFileSync(hub.caFile) });
    socket.setNoDelay(true);
    await withTimeout(once(socket, 'secureConnect'), 10_000, `a TLS connection to ${hub.address}:5671`);
    return new RawAmqp(socket);
  }

  /** The AMQPWSB10 WebSocket on the hub's HTTPS port (443). */
  static async ws(hub: HubProcess): Promise<RawAmqp> {
    const ws = new WebSocket(`wss://${hub.address}/$iothub/websocket`, 'AMQPWSB10', { ca: readFileSync(hub.caFile) });
    await withTimeout(once(ws, 'open'), 10_000, `the AMQPWSB10 WebSocket of ${hub.address}`);
    return new RawAmqp(createWebSocketStream(ws));
  }

  write(...bufs: Buffer[]): void {
    this.stream.write(Buffer.concat(bufs));
  }

  /** SASL PLAIN with a policy token, then the AMQP header, open and begin. */
  async openAsService(token: string, policy = 'service'): Promise<void> {
    this.write(header(3));
    await this.next(CODE.saslMechanisms);
    const response = Buffer.from(`\0${policy}@sas.root.ferry\0${token}`);
    this.write(saslFrame('sasl_init', { mechanism: 'PLAIN', initial_response: response }));
    const outcome = await this.next(CODE.saslOutcome);
    if (outcome.code !== 0) throw new Error(`SASL PLAIN refused (code ${String(outcome.code)})`);
    this.write(
      header(0),
      amqpFrame('open', { container_id: 'raw-test' }),
      amqpFrame('begin', { next_outgoing_id: 0, incoming_window: 65535, outgoing_window: 65535 }),
    );
    await this.next(CODE.open);
  }

  /** Waits for the first frame with this descriptor code, from the frames not yet consumed by next(). */
  async next(code: number, timeoutMs = 20_000): Promise<Performative> {
    const found = await this.until(
      () => this.performatives.find((p, i) => i >= this.cursor && is(p, code)),
      timeoutMs,
      `an AMQP performative 0x${code.toString(16)} from the hub`,
    );
    this.cursor = this.performatives.indexOf(found) + 1;
    return found;
  }

  /** Resolves with cond()'s first truthy value; rejects when the connection closes first or in time. */
  async until<T>(cond: () => T | undefined | false, timeoutMs = 20_000, what = 'the hub'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = cond();
      if (v) return v;
      if (this.ended) throw new Error(`the hub closed the connection while the test waited for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  destroy(): void {
    this.stream.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    let i = 0;
    while (i + 8 <= this.buffer.length) {
      if (this.buffer.subarray(i, i + 4).toString('latin1') === 'AMQP') {
        i += 8;
        continue;
      }
      const size = this.buffer.readUInt32BE(i);
      if (i + size > this.buffer.length) break;
      const f = frames.read_frame(this.buffer.subarray(i, i + size));
      if (f?.performative) this.performatives.push(f.performative);
      i += size;
    }
    this.buffer = this.buffer.subarray(i);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export function is(p: Performative, code: number): boolean {
  return p.constructor.descriptor?.numeric === code;
}

const message = require('rhea/lib/message.js') as {
  unwrap_outcome(o: unknown): { constructor: { composite_type?: string }; error?: { condition?: string } };
};

/** The outcome the hub gave each delivery id in its dispositions (a range counts for every id in it). */
export function outcomes(performatives: readonly Performative[]): Map<number, { outcome: string; condition?: string }> {
  const byId = new Map<number, { outcome: string; condition?: string }>();
  for (const p of performatives) {
    if (!is(p, CODE.disposition)) continue;
    const state = p.state ? message.unwrap_outcome(p.state) : undefined;
    const answer = {
      outcome: state?.constructor.composite_type ?? 'none',
      ...(state?.error?.condition ? { condition: state.error.condition } : {}),
    };
    const first = p.first as number;
    const last = (p.last as number | undefined) ?? first;
    for (let id = first; id <= last; id++) byId.set(id, answer);
  }
  return byId;
}
