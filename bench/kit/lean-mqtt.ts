/**
 * A lean MQTT 3.1.1 client for the load side of the peer benchmark: a TLS socket (one shared
 * SecureContext for the whole fleet), mqtt-packet's parser and generator, nothing else. Received
 * QoS 1 PUBLISHes are acknowledged in one write per incoming chunk; QoS 1 publishes resolve on
 * their PUBACK. Far cheaper per message than mqtt.js, so a thousand of them and one publisher can
 * feed and drain a broker without being its bottleneck.
 */
import { type SecureContext, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { generate, type IPublishPacket, parser as mqttParser, type Packet } from 'mqtt-packet';

export interface LeanMqttOptions {
  host: string;
  port: number;
  secureContext: SecureContext;
  clientId: string;
  username?: string;
  password?: string;
  clean: boolean;
  keepalive?: number;
  /** A PUBLISH from the server (acknowledged after this returns, when QoS 1). */
  onPublish?: (topic: string, payload: Buffer) => void;
  /** A TLS session to resume (a fleet's handshakes then skip the certificate's signature). */
  session?: Buffer;
  /** Called with each TLS session the server offers for resumption. */
  onSession?: (session: Buffer) => void;
}

const PUBACK_SIZE = 4;

export class LeanMqtt {
  private readonly socket: TLSSocket;
  private readonly parser = mqttParser({ protocolVersion: 4 });
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (p: Packet) => void; reject: (e: Error) => void }>();
  private connack: ((sessionPresent: boolean) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;
  private pubacks: Buffer | undefined;
  private pubackCount = 0;
  private corked = false;
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
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (err: Error) => this.fail(err));
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
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
        generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: o.clientId,
          clean: o.clean,
          keepalive: o.keepalive ?? 240,
          ...(o.username === undefined ? {} : { username: o.username }),
          ...(o.password === undefined ? {} : { password: Buffer.from(o.password) }),
        }),
      );
    });
    return { client, sessionPresent };
  }

  async subscribe(topic: string, qos: 0 | 1): Promise<number> {
    const messageId = this.allocateId();
    const suback = await this.request(
      messageId,
      generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] }),
    );
    return (suback as { granted: number[] }).granted[0] ?? 0x80;
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
    this.waiting.set(messageId, { resolve: () => done(), reject: done });
    this.write(generate({ cmd: 'publish', qos: 1, dup: false, retain: false, messageId, topic, payload }));
  }

  /** DISCONNECT and end; resolves when the socket is closed. */
  async end(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = new Promise<void>((r) => this.socket.once('close', () => r()));
    this.closed = true;
    this.socket.end(generate({ cmd: 'disconnect' }));
    const t = setTimeout(() => this.socket.destroy(), 5000);
    await closed;
    clearTimeout(t);
  }

  private request(messageId: number, bytes: Buffer): Promise<Packet> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error(`${this.o.clientId}: closed`));
      this.waiting.set(messageId, { resolve, reject });
      this.write(bytes);
    });
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id === 0xffff ? 1 : id + 1;
      if (!this.waiting.has(id)) return id;
    }
  }

  private write(bytes: Buffer): void {
    if (this.socket.destroyed) return;
    // Everything written in one tick leaves in one TLS record.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    this.parser.parse(chunk);
    // Every PUBACK this chunk called for, in one write (one TLS record).
    if (this.pubackCount > 0) {
      this.write(this.pubacks!.subarray(0, this.pubackCount * PUBACK_SIZE));
      this.pubacks = undefined;
      this.pubackCount = 0;
    }
  }

  private onPacket(p: Packet): void {
    switch (p.cmd) {
      case 'publish':
        this.onPublish(p);
        return;
      case 'connack':
        if (p.returnCode !== 0) {
          this.fail(new Error(`${this.o.clientId}: CONNACK ${p.returnCode}`));
          return;
        }
        this.failed = undefined;
        this.connack?.(p.sessionPresent);
        this.connack = undefined;
        return;
      case 'puback':
      case 'suback': {
        const id = p.messageId ?? 0;
        const w = this.waiting.get(id);
        this.waiting.delete(id);
        w?.resolve(p);
        return;
      }
      default:
        return;
    }
  }

  private onPublish(p: IPublishPacket): void {
    this.o.onPublish?.(p.topic, p.payload as Buffer);
    if (p.qos !== 1 || p.messageId === undefined) return;
    if (!this.pubacks || this.pubacks.length < (this.pubackCount + 1) * PUBACK_SIZE) {
      const grown = Buffer.allocUnsafe(Math.max(64, (this.pubackCount + 1) * PUBACK_SIZE * 2));
      this.pubacks?.copy(grown, 0, 0, this.pubackCount * PUBACK_SIZE);
      this.pubacks = grown;
    }
    const at = this.pubackCount++ * PUBACK_SIZE;
    this.pubacks[at] = 0x40;
    this.pubacks[at + 1] = 0x02;
    this.pubacks.writeUInt16BE(p.messageId, at + 2);
  }

  private fail(err: Error): void {
    const wasClosed = this.closed;
    this.closed = true;
    this.failed?.(err);
    this.failed = undefined;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    if (!wasClosed && !this.socket.destroyed) this.socket.destroy();
  }
}
