/**
 * C2D over MQTT 3.1.1 (TLS on 8883, or WebSocket `/$iothub/websocket` with subprotocol `mqtt`),
 * as the official client connects (official-sdk-wire.md A). mqtt-packet is the codec; this
 * client sends PUBACK only when the app completes a message, so nothing is acknowledged before
 * the app has it. MQTT cannot abandon or reject.
 */
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { c2dSubscription, FerryError, receivedFromMqttTopic } from '@ferry/common';
import { connectionLost, socketError } from '@ferry/common/client';
import { generate, parser as mqttParser, type Packet } from 'mqtt-packet';
import WebSocket, { createWebSocketStream } from 'ws';
import type { DeviceTransport, ReceivedMessage, Settlement, TransportEvents, TransportTarget } from './transport.js';

export interface MqttOptions extends TransportTarget {
  hostName: string;
  /** Seconds between PINGREQs (default 60). */
  keepaliveS?: number;
  userAgent: string;
}

const PROTOCOL = { protocolVersion: 4 } as const;
const CONNACK_UNAUTHORIZED = new Set([4, 5]);

let generations = 0;

export class MqttTransport implements DeviceTransport {
  private stream: Duplex | undefined;
  private generation = 0;
  private events: TransportEvents | undefined;
  private closed = false;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private readonly where: string;

  constructor(private readonly o: MqttOptions) {
    this.where = `${o.host}:${o.port}`;
  }

  private open(): Duplex {
    const { host, port, ca } = this.o;
    if (this.o.websocket) {
      const h = host.includes(':') ? `[${host}]` : host;
      const ws = new WebSocket(`wss://${h}:${port}/$iothub/websocket`, ['mqtt'], ca ? { ca } : {});
      return createWebSocketStream(ws);
    }
    const servername = /^[\d.]+$|:/.test(host) ? undefined : host;
    return tlsConnect({ host, port, ...(ca ? { ca } : {}), ...(servername ? { servername } : {}) });
  }

  async connect(events: TransportEvents): Promise<void> {
    this.events = events;
    this.closed = false;
    this.generation = ++generations;
    const generation = this.generation;
    const stream = this.open();
    this.stream = stream;
    const parser = mqttParser(PROTOCOL);
    // While connecting, failures reject connect(); afterwards they are reported as lost.
    let connecting = true;
    let failure: FerryError | undefined;
    let handshake: { resolve(p: Packet): void; reject(e: FerryError): void } | undefined;
    const deadline = setTimeout(() => lost(connectionLost(this.where, new Error('no answer within 30 s'))), 30_000);
    const lost = (err: FerryError) => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      clearInterval(this.pingTimer);
      clearTimeout(deadline);
      stream.destroy();
      if (connecting) {
        failure = err;
        handshake?.reject(err);
      } else if (!this.closed) this.events?.lost(err);
    };
    stream.on('data', (chunk: Buffer) => parser.parse(chunk));
    stream.on('error', (err) => lost(socketError(this.where, err)));
    stream.on('close', () => lost(connectionLost(this.where)));
    parser.on('error', (err) =>
      lost(new FerryError('ServerError', `Malformed MQTT packet from the hub: ${err.message}`)),
    );
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'publish') this.onPublish(p.topic, p.payload, p.messageId, p.qos, generation);
      else if (p.cmd === 'pingresp') this.awaitingPong = false;
      else handshake?.resolve(p);
    });
    const next = () =>
      failure
        ? Promise.reject(failure)
        : new Promise<Packet>((resolve, reject) => {
            handshake = { resolve, reject };
          });

    const { deviceId, hostName } = this.o;
    const keepalive = this.o.keepaliveS ?? 60;
    this.write({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: false,
      clientId: deviceId,
      keepalive,
      username: `${hostName}/${deviceId}/?api-version=2021-04-12&DeviceClientType=${encodeURIComponent(this.o.userAgent)}`,
      password: Buffer.from(this.o.tokens.token(), 'utf8'),
    });
    const connack = await next();
    if (connack.cmd !== 'connack' || connack.returnCode !== 0) {
      const rc = connack.cmd === 'connack' ? (connack.returnCode ?? 0) : -1;
      const err = CONNACK_UNAUTHORIZED.has(rc)
        ? new FerryError(
            'IotHubUnauthorizedAccess',
            `The hub refused the device's credentials (CONNACK ${rc}); is the key right and the device enabled?`,
          )
        : new FerryError('ServiceUnavailable', `The hub refused the connection (CONNACK ${rc})`);
      lost(err);
      throw err;
    }
    this.write({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: c2dSubscription(deviceId), qos: 1 }] });
    const suback = await next();
    if (suback.cmd !== 'suback' || suback.granted[0] !== 1) {
      const err = new FerryError('IotHubUnauthorizedAccess', 'The hub refused the C2D subscription');
      lost(err);
      throw err;
    }
    connecting = false;
    handshake = undefined;
    clearTimeout(deadline);
    this.pingTimer = setInterval(() => {
      if (this.awaitingPong) lost(connectionLost(this.where, new Error('no PINGRESP within the keepalive')));
      this.awaitingPong = true;
      this.write({ cmd: 'pingreq' });
    }, keepalive * 1000);
    this.pingTimer.unref();
  }

  private write(packet: Packet): void {
    this.stream?.write(generate(packet, PROTOCOL));
  }

  private onPublish(
    topic: string,
    payload: Buffer | string,
    messageId: number | undefined,
    qos: number,
    generation: number,
  ): void {
    let fields: ReturnType<typeof receivedFromMqttTopic>;
    try {
      fields = receivedFromMqttTopic(topic);
    } catch {
      return; // not C2D: nothing of ours
    }
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
    const lockToken =
      qos > 0 && messageId !== undefined ? `mqtt:${generation}:${messageId}` : `mqtt:${generation}:qos0`;
    const m: ReceivedMessage = { ...fields, body, lockToken };
    this.events?.message(m);
  }

  async settle(lockToken: string, how: Settlement): Promise<void> {
    if (how !== 'complete') {
      throw new FerryError(
        'NotImplemented',
        `MQTT does not support ${how === 'abandon' ? 'abandoning' : 'rejecting'} messages; use the amqp or https transport for that`,
      );
    }
    const m = /^mqtt:(\d+):(\d+|qos0)$/.exec(lockToken);
    if (!m) throw new FerryError('DeviceMessageLockLost', `Not an MQTT lock token: ${lockToken}`);
    if (m[2] === 'qos0') return;
    if (Number(m[1]) !== this.generation || !this.stream) {
      throw new FerryError(
        'DeviceMessageLockLost',
        'The connection that delivered this message is gone; the hub delivers it again',
      );
    }
    this.write({ cmd: 'puback', messageId: Number(m[2]) });
  }

  async renewToken(): Promise<boolean> {
    return false; // a new password needs a new CONNECT
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pingTimer);
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    stream.end(generate({ cmd: 'disconnect' }, PROTOCOL));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        stream.destroy();
        resolve();
      }, 1000);
      stream.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
