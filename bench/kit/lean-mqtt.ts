/**
 * A lean MQTT 3.1.1 client for the load side of the peer benchmark: a TLS socket (one shared
 * SecureContext for a whole fleet process) and the hand-made frames of mqtt-wire.ts, nothing
 * else. Everything it writes in one tick (PUBLISHes, the PUBACKs a chunk of PUBLISHes called for)
 * is copied into one buffer and leaves in one socket write, so in one TLS record. Two ways to
 * publish at QoS 1: publish()/publishWith() answer each PUBACK by promise or callback (for the
 * odd message), sendStamped() answers every PUBACK through the client's one `sink` (for the load:
 * no closure, promise or map entry per message). Far cheaper per message than mqtt.js or
 * mqtt-packet (not loaded at all), so a few processes of them can feed and drain a broker without being its bottleneck.
 */
import { type SecureContext, type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  CONNACK,
  DISCONNECT,
  encodeConnect,
  encodePublish,
  encodeSubscribe,
  FrameReader,
  PUBACK,
  PUBLISH,
  type PublishTemplate,
  SUBACK,
  writePuback,
} from './mqtt-wire.js';

export interface LeanMqttOptions {
  host: string;
  port: number;
  secureContext: SecureContext;
  clientId: string;
  username?: string;
  password?: string;
  clean: boolean;
  keepalive?: number;
  /** A PUBLISH from the server, with its topic (acknowledged after this returns, when QoS 1). */
  onPublish?: (topic: string, payload: Buffer) => void;
  /** A PUBLISH from the server, its payload only (no topic string made): the load's fast path. */
  onPayload?: (payload: Buffer) => void;
  /** A TLS session to resume (a fleet's handshakes then skip the certificate's signature). */
  session?: Buffer;
  /** Called with each TLS session the server offers for resumption. */
  onSession?: (session: Buffer) => void;
}

/** Where the PUBACKs of sendStamped() go: one each, or the count lost with the connection. */
export interface AckSink {
  acked(): void;
  lost(err: Error, count: number): void;
}

/** The write buffer's size: one allocation per this many bytes of frames. */
const BATCH_BYTES = 16 * 1024;

export class LeanMqtt {
  private readonly socket: TLSSocket;
  private readonly reader = new FrameReader((h, b, s, e) => this.onFrame(h, b, s, e));
  private nextId = 1;
  /** PUBLISHes and SUBSCRIBEs answered one by one (publishWith, subscribe). */
  private readonly waiting = new Map<number, (err: Error | undefined, granted: number) => void>();
  /** sendStamped() PUBLISHes awaiting their PUBACK (answered through `sink`). */
  private unacked = 0;
  sink: AckSink | undefined;
  private connack: ((sessionPresent: boolean) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;
  /** Frames written this tick: batch[0, used) goes out on the next flush. */
  private batch = Buffer.allocUnsafe(0);
  private used = 0;
  private flushQueued = false;
  private readonly flushNow = () => this.flush();
  closed = false;

  private constructor(private readonly o: LeanMqttOptions) {
    this.socket = tlsConnect({
      host: o.host,
      port: o.port,
      secureContext: o.secureContext,
      ...(o.session && { session: o.session }),
    });
    if (o.onSession) this.socket.on('session', o.onSession);
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.fail(err as Error);
      }
    });
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error(`${o.clientId}: connection closed`)));
  }

  /** connect() as a fleet device: its client id and, when it has them, its username and password. */
  static connectAs(
    d: { clientId: string; username?: string; password?: string },
    o: Omit<LeanMqttOptions, 'clientId' | 'username' | 'password'>,
  ): Promise<{ client: LeanMqtt; sessionPresent: boolean }> {
    return LeanMqtt.connect({
      ...o,
      clientId: d.clientId,
      ...(d.username === undefined ? {} : { username: d.username }),
      ...(d.password === undefined ? {} : { password: d.password }),
    });
  }

  /** Connects (TLS + CONNECT); resolves with CONNACK's session-present flag. */
  static async connect(o: LeanMqttOptions): Promise<{ client: LeanMqtt; sessionPresent: boolean }> {
    const client = new LeanMqtt(o);
    const sessionPresent = await new Promise<boolean>((resolve, reject) => {
      client.connack = resolve;
      client.failed = reject;
      client.write(
        encodeConnect({
          clientId: o.clientId,
          clean: o.clean,
          keepalive: o.keepalive ?? 240,
          ...(o.username === undefined ? {} : { username: o.username }),
          ...(o.password === undefined ? {} : { password: o.password }),
        }),
      );
    });
    return { client, sessionPresent };
  }

  /** SUBSCRIBE to one filter; resolves with the granted QoS (0x80: refused). */
  subscribe(topic: string, qos: 0 | 1): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error(`${this.o.clientId}: closed`));
      const messageId = this.allocateId();
      this.waiting.set(messageId, (err, granted) => (err ? reject(err) : resolve(granted)));
      this.write(encodeSubscribe(messageId, topic, qos));
    });
  }

  /** QoS 1 publish; resolves on its PUBACK. */
  publish(topic: string, payload: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.publishWith(topic, payload, (err) => (err ? reject(err) : resolve())));
  }

  /** publish() answering `done` on its PUBACK (or with the failure) instead of a promise. */
  publishWith(topic: string, payload: Buffer, done: (err?: Error) => void): void {
    if (this.closed) {
      done(new Error(`${this.o.clientId}: closed`));
      return;
    }
    const messageId = this.allocateId();
    this.waiting.set(messageId, (err) => done(err));
    this.write(encodePublish(messageId, topic, payload));
  }

  /**
   * QoS 1 publish of the template's topic (with `text` in its place, PublishTemplate) and a body
   * stamped now with message number `n`; its PUBACK (or its loss) is answered through `sink`,
   * which must be set.
   */
  sendStamped(t: PublishTemplate, n: number, text?: string): void {
    if (this.closed) {
      this.sink!.lost(new Error(`${this.o.clientId}: closed`), 1);
      return;
    }
    this.unacked++;
    const at = this.reserve(t.length);
    t.write(this.batch, at, this.allocateId(), n, text);
  }

  /** DISCONNECT and end; resolves when the socket is closed. */
  async end(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = new Promise<void>((r) => this.socket.once('close', () => r()));
    this.flush();
    this.closed = true;
    this.socket.end(DISCONNECT);
    const t = setTimeout(() => this.socket.destroy(), 5000);
    await closed;
    clearTimeout(t);
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 0xffff ? 1 : id + 1;
      // The load's own ids never collide: far fewer than 65,535 await their PUBACK.
      if (this.waiting.size === 0 || !this.waiting.has(id)) return id;
    }
  }

  /** Room for `bytes` more in this tick's batch; returns where they go. */
  private reserve(bytes: number): number {
    if (this.batch.length - this.used < bytes) {
      this.flush();
      this.batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES, bytes));
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(this.flushNow);
    }
    const at = this.used;
    this.used += bytes;
    return at;
  }

  private write(bytes: Buffer): void {
    const at = this.reserve(bytes.length);
    bytes.copy(this.batch, at);
  }

  /** This tick's frames in one write; the rest of the buffer serves the next tick. */
  private flush(): void {
    this.flushQueued = false;
    if (this.used === 0) return;
    if (!this.socket.destroyed) this.socket.write(this.batch.subarray(0, this.used));
    this.batch = this.batch.subarray(this.used);
    this.used = 0;
  }

  private onFrame(header: number, buf: Buffer, start: number, end: number): void {
    switch (header >> 4) {
      case PUBLISH:
        this.onPublish(header, buf, start, end);
        return;
      case PUBACK: {
        const id = buf.readUInt16BE(start);
        const w = this.waiting.size > 0 ? this.waiting.get(id) : undefined;
        if (w) {
          this.waiting.delete(id);
          w(undefined, 0);
        } else if (this.unacked > 0) {
          this.unacked--;
          this.sink?.acked();
        }
        return;
      }
      case SUBACK: {
        const id = buf.readUInt16BE(start);
        const w = this.waiting.get(id);
        this.waiting.delete(id);
        w?.(undefined, end > start + 2 ? buf[start + 2]! : 0x80);
        return;
      }
      case CONNACK: {
        const returnCode = buf[start + 1];
        if (returnCode !== 0) {
          this.fail(new Error(`${this.o.clientId}: CONNACK ${returnCode}`));
          return;
        }
        this.failed = undefined;
        this.connack?.((buf[start]! & 1) === 1);
        this.connack = undefined;
        return;
      }
      default:
        return;
    }
  }

  private onPublish(header: number, buf: Buffer, start: number, end: number): void {
    const qos = (header >> 1) & 3;
    const topicEnd = start + 2 + buf.readUInt16BE(start);
    const id = qos > 0 ? buf.readUInt16BE(topicEnd) : 0;
    const payload = buf.subarray(qos > 0 ? topicEnd + 2 : topicEnd, end);
    this.o.onPayload?.(payload);
    this.o.onPublish?.(buf.toString('utf8', start + 2, topicEnd), payload);
    // Every PUBACK this chunk calls for goes out in this tick's one write.
    if (qos === 1) {
      const at = this.reserve(4);
      writePuback(this.batch, at, id);
    }
  }

  private fail(err: Error): void {
    const wasClosed = this.closed;
    this.closed = true;
    this.failed?.(err);
    this.failed = undefined;
    for (const w of this.waiting.values()) w(err, 0x80);
    this.waiting.clear();
    if (this.unacked > 0) {
      const lost = this.unacked;
      this.unacked = 0;
      this.sink?.lost(err, lost);
    }
    if (!wasClosed && !this.socket.destroyed) this.socket.destroy();
  }
}
