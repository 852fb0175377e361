/**
 * A device over MQTT 3.1.1 (TLS on 8883, or WebSocket `/$iothub/websocket` with subprotocol `mqtt`),
 * as the official client connects (official-sdk-wire.md A). mqtt-packet is the codec. C2D: this
 * client sends PUBACK only when the app completes a message, so nothing is acknowledged before
 * the app has it; MQTT cannot abandon or reject. Telemetry is published at QoS 1 and resolves on
 * its PUBACK. Twins and methods use the `$iothub/...` topics (mqtt-topics.ts).
 */
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { checkTelemetrySize, FerryError, mqttTelemetryTopic, receivedFromMqttTopic } from '@ferry/common';
import { connectionLost, socketError } from '@ferry/common/client';
import { generate, type IPublishPacket, type ISubscribePacket, parser as mqttParser, type Packet } from 'mqtt-packet';
import WebSocket, { createWebSocketStream } from 'ws';
import type { OutgoingEvent } from './events.js';
import { featureFilters, featureQos, methodAnswerTopic, parseIotHubTopic, twinRequestTopic } from './mqtt-topics.js';
import { Correlator } from './requests.js';
import type {
  DeviceTransport,
  Feature,
  ReceivedMessage,
  Settlement,
  TransportEvents,
  TransportTarget,
  TwinOperation,
  TwinReply,
} from './transport.js';

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
  /** PUBACKs and SUBACKs awaited, by packet id. */
  private readonly acks = new Map<number, { resolve(p: Packet): void; reject(e: FerryError): void }>();
  private lastPacketId = 0;
  private readonly features = new Set<Feature>();
  private readonly twin = new Correlator<TwinReply>();

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
      this.failPending(err);
      if (connecting) {
        failure = err;
        handshake?.reject(err);
      } else if (!this.closed) this.events?.lost(err);
    };
    stream.on('data', (chunk: Buffer) => parser.parse(chunk));
    stream.on('error', (err) => lost(socketError(this.where, err)));
    stream.on('close', () => lost(connectionLost(this.where)));
    // A WebSocket stream only ends when the hub closes it ('close' waits for our side to end too).
    stream.on('end', () => lost(connectionLost(this.where)));
    parser.on('error', (err) =>
      lost(new FerryError('ServerError', `Malformed MQTT packet from the hub: ${err.message}`)),
    );
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'publish') this.onPublish(p.topic, p.payload, p.messageId, p.qos, generation);
      else if (p.cmd === 'pingresp') this.awaitingPong = false;
      else if ((p.cmd === 'puback' || p.cmd === 'suback') && p.messageId !== undefined) this.acked(p.messageId, p);
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
      // A client that does not receive starts clean, so it does not resume a stored C2D subscription (MQTT-3.1.2-6).
      clean: !this.features.has('c2d'),
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
    try {
      await this.subscribe([...this.features]);
    } catch (err) {
      lost(err as FerryError);
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

  /** Sends a PUBLISH (QoS 1) or SUBSCRIBE with a free packet id; resolves with its PUBACK or SUBACK. */
  private request(packet: Omit<IPublishPacket, 'messageId'> | Omit<ISubscribePacket, 'messageId'>): Promise<Packet> {
    if (!this.stream) return Promise.reject(connectionLost(this.where, new Error('not connected')));
    let id = this.lastPacketId;
    do id = (id % 65535) + 1;
    while (this.acks.has(id));
    this.lastPacketId = id;
    const done = new Promise<Packet>((resolve, reject) => this.acks.set(id, { resolve, reject }));
    this.write({ ...packet, messageId: id } as Packet);
    return done;
  }

  private acked(id: number, packet: Packet): void {
    const waiting = this.acks.get(id);
    this.acks.delete(id);
    waiting?.resolve(packet);
  }

  private failPending(err: FerryError): void {
    for (const w of this.acks.values()) w.reject(err);
    this.acks.clear();
    this.twin.failAll(err);
  }

  async sendEvents(events: OutgoingEvent[]): Promise<void> {
    // MQTT 3.1.1 has no refusal of one PUBLISH (the hub would close the connection): refused here, with the hub's error.
    for (const e of events) checkTelemetrySize(e);
    await Promise.all(
      events.map((e) =>
        this.request({
          cmd: 'publish',
          topic: mqttTelemetryTopic(this.o.deviceId, e),
          payload: e.body,
          qos: 1,
          retain: false,
          dup: false,
        }),
      ),
    );
  }

  async enable(feature: Feature): Promise<void> {
    if (this.features.has(feature)) return;
    await this.subscribe([feature]);
    this.features.add(feature);
  }

  /** One SUBSCRIBE for the features' filters; a refusal (or C2D below QoS 1) is IotHubUnauthorizedAccess. */
  private async subscribe(features: Feature[]): Promise<void> {
    const { deviceId } = this.o;
    const subscriptions = features.flatMap((f) =>
      featureFilters(f, deviceId).map((topic) => ({ topic, qos: featureQos(f) })),
    );
    if (subscriptions.length === 0) return;
    const reply = await this.request({ cmd: 'subscribe', subscriptions });
    const granted = reply.cmd === 'suback' ? reply.granted : [];
    const refused = subscriptions.some((sub, i) => {
      const g = granted[i];
      return typeof g !== 'number' || g === 128 || g < sub.qos;
    });
    if (refused) {
      throw new FerryError(
        'IotHubUnauthorizedAccess',
        `The hub refused the ${features.join(', ')} subscription (${granted.join(', ')})`,
      );
    }
  }

  async twinRequest(operation: TwinOperation, body: Buffer | undefined): Promise<TwinReply> {
    if (!this.stream) throw connectionLost(this.where, new Error('not connected'));
    const rid = this.twin.newId();
    const answer = this.twin.wait(rid);
    this.write({
      cmd: 'publish',
      topic: twinRequestTopic(operation, rid),
      payload: body ?? Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
    });
    return answer;
  }

  async answerMethod(rid: string, status: number, payload: Buffer): Promise<void> {
    if (!this.stream) throw connectionLost(this.where, new Error('not connected'));
    this.write({ cmd: 'publish', topic: methodAnswerTopic(status, rid), payload, qos: 0, retain: false, dup: false });
  }

  private onPublish(
    topic: string,
    payload: Buffer | string,
    messageId: number | undefined,
    qos: number,
    generation: number,
  ): void {
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
    const iothub = parseIotHubTopic(topic);
    if (iothub?.kind === 'twin-reply')
      this.twin.answer(iothub.rid, { status: iothub.status, version: iothub.version, body });
    else if (iothub?.kind === 'desired') this.events?.desired(body, iothub.version);
    else if (iothub?.kind === 'method')
      this.events?.method({ methodName: iothub.methodName, rid: iothub.rid, payload: body });
    if (iothub) return;
    let fields: ReturnType<typeof receivedFromMqttTopic>;
    try {
      fields = receivedFromMqttTopic(topic);
    } catch {
      return; // not C2D: nothing of ours
    }
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
    this.failPending(new FerryError('ServiceUnavailable', 'The client was closed'));
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
