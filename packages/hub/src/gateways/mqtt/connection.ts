/**
 * One MQTT connection: bytes in through mqtt-packet's parser, packets handled one at a time in
 * arrival order by the per-packet-type handlers, packets out through mqtt-packet's generator.
 * It never touches sockets: the stream can be a TLS socket, a WebSocket stream or a memory pair.
 */
import type { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { generate, parser as mqttParser, type Packet, writeToStream } from 'mqtt-packet';
import type { TimerHandle } from '../../clock.js';
import { ConnectionLog } from '../connection-log.js';
import type { ConnectionInfo, GatewayContext } from '../context.js';
import type { CutOff } from '../device-change.js';
import { RefusalLog } from '../refusals.js';
import { WriteStallWatch } from '../write-stall.js';
import { CONNACK, handleConnect } from './connect.js';
import { DeliveryPump } from './delivery.js';
import { KeepAliveWatchdog, keepAliveTimeoutMs } from './keepalive.js';
import { METHOD_PREFIX, MethodTopics } from './methods.js';
import { handlePuback } from './puback.js';
import { handlePublish, PubackQueue } from './publish.js';
import type { MqttSessionStore } from './session.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';
import { type TwinSubscriptions, TwinTopics } from './twin.js';

/** What a connection needs of the gateway that owns it. */
export interface ConnectionOwner {
  readonly ctx: GatewayContext;
  readonly sessions: MqttSessionStore;
  /** Connections that completed CONNECT (the maxConnections cap counts these). */
  readonly establishedCount: number;
  hasDevice(deviceId: string): boolean;
  /** CONNECT is being checked: registry changes of its client id reach it from now on. */
  authenticate(conn: MqttConnection): void;
  /** Become the device's live connection; returns the one it replaces. */
  claim(deviceId: string, conn: MqttConnection): MqttConnection | undefined;
  /** The connection is gone. */
  forget(conn: MqttConnection): void;
}

/**
 * mqtt-packet 9's parser (pinned by the lockfile), and the one internal read here: its state
 * index, 0 between packets. The parse() result alone cannot tell: after a packet's first byte it
 * holds no bytes yet is in the middle of the packet.
 */
type Parser = ReturnType<typeof mqttParser> & { _stateCounter: number };

/**
 * Nothing a device may send is bigger than a 256 KB telemetry PUBLISH with the longest topic; a
 * larger frame is an attack or a bug.
 */
const MAX_BUFFERED_BYTES = 256 * 1024 + 65_536 + 1024;
/**
 * Packets parsed but not yet handled: past this, the connection stops reading (and TCP pushes
 * back on the client) until the handlers catch up. One chunk may overshoot it by what it holds.
 */
const MAX_QUEUED_PACKETS = 64;
/** A client that does not read its PINGRESPs/publishes is dropped before it costs memory. */
const MAX_WRITE_BUFFER_BYTES = 4 * 1024 * 1024;
/** After the last packet is written and the stream ended, how long the peer has to close its side. */
const CLOSE_GRACE_MS = 2_000;

export interface Established {
  deviceId: string;
  cleanSession: boolean;
  sessionPresent: boolean;
  c2dQos: 0 | 1 | null;
  /** The twin topics a resumed session (clean session 0) had subscribed to. */
  twinSubs?: TwinSubscriptions | undefined;
  /** Whether a resumed session had subscribed to direct methods. */
  methodsSubscribed?: boolean;
  keepaliveSeconds: number;
  /** When the SAS token stops being valid (ms since the epoch), or undefined. */
  tokenExpiresAt: number | undefined;
}

type State = 'awaiting-connect' | 'connecting' | 'connected' | 'closed';

// mqtt-packet's default builds 65,536 two-byte Buffers (6 MiB of heap, kept for good) on its first
// packet to spare one tiny allocation per packet id; the hub's hot PUBLISH is encoded by topic.ts.
writeToStream.cacheNumbers = false;

/** The connection a stream carries, for the stream listeners every connection shares. */
const CONNECTION = Symbol('mqttConnection');
type Carrier = Duplex & { [CONNECTION]: MqttConnection };

export class MqttConnection {
  // The stream's listeners: one function per event for every connection (the stream is `this`),
  // not five closures per connection.
  private static readonly onReadable = function (this: Carrier): void {
    this[CONNECTION].readMore();
  };
  private static readonly onDrain = function (this: Carrier): void {
    this[CONNECTION].releaseDrainWaiters();
  };
  private static readonly onError = function (this: Carrier, err: Error): void {
    void this[CONNECTION].close(`stream error: ${err.message}`, 'debug');
  };
  private static readonly onEnd = function (this: Carrier): void {
    void this[CONNECTION].close('the client closed the connection', 'debug');
  };
  private static readonly onClose = function (this: Carrier): void {
    void this[CONNECTION].close('the connection closed', 'debug');
  };

  state: State = 'awaiting-connect';
  /** This connection's log lines (see ../connection-log.ts: not a pino child, which an idle connection would hold). */
  readonly logger: ConnectionLog;
  deviceId: string | undefined;
  /** The CONNECT's client id and SAS token, kept so a registry change can be judged against them. */
  clientId: string | undefined;
  token: string | undefined;
  /** The device id a CONNECT claimed (its client id), before anything proved it. */
  claimedId: string | undefined;
  /** The client certificate that proved the device (X.509), judged again on registry changes. */
  certificate: X509Certificate | undefined;
  /** The verified hub CAs (fingerprints) its certificate chained through: removing one cuts it. */
  viaCas: readonly string[] | undefined;
  cleanSession = true;
  c2dQos: 0 | 1 | null = null;
  pump: DeliveryPump | undefined;
  /** Twin requests and desired notifications (when the hub serves twins). */
  twin: TwinTopics | undefined;
  private pubackQueue: PubackQueue | undefined;
  /** Direct method requests and answers (when the hub serves methods). */
  methods: MethodTopics | undefined;

  /**
   * Made when bytes must be parsed, and let go at a packet boundary once connected: between
   * packets, PUBACKs and PINGREQs (all an idle or receiving device sends) need none, and an idle
   * connection does not keep one (its stream of buffers and state, about 2 KB). Undefined means
   * the next byte starts a packet.
   */
  private parser: Parser | undefined;
  private queue: Packet[] = [];
  private draining = false;
  /** Reading stopped because the queue was full; the drain loop resumes it. */
  private readStalled = false;
  private keepAlive: KeepAliveWatchdog | undefined;
  /** Until CONNECT is answered. */
  private firstPacketTimer: TimerHandle | undefined;
  private lastTouch = 0;
  private teardown: Promise<void> | undefined;
  /** A CONNECT was answered with a refusal (logged at the level given, not demoted). */
  private refused = false;
  private drainWaiters: Array<() => void> | undefined;
  /** Made by the first write the stream asks us to wait after: most connections never need one. */
  private writeStall: WriteStallWatch | undefined;
  private refusalLog: RefusalLog | undefined;

  constructor(
    readonly stream: Duplex,
    readonly info: ConnectionInfo,
    readonly owner: ConnectionOwner,
  ) {
    this.logger = new ConnectionLog(owner.ctx.logger, 'mqtt', info.remoteAddress, info.transport);
    // Pull, as far as the queue has room: a client cannot make the hub buffer without bound.
    (stream as Carrier)[CONNECTION] = this;
    stream.on('readable', MqttConnection.onReadable);
    stream.on('drain', MqttConnection.onDrain);
    stream.on('error', MqttConnection.onError);
    stream.on('end', MqttConnection.onEnd);
    stream.on('close', MqttConnection.onClose);
    const { clock, config } = owner.ctx;
    // CONNECT is the first packet: it must come soon after the stream opens.
    this.firstPacketTimer = clock.setTimer(() => {
      if (this.state === 'awaiting-connect' || this.state === 'connecting') this.close('no CONNECT in time', 'info');
    }, config.connections.firstPacketTimeoutMs);
  }

  /** Telemetry PUBACKs in order (made by the first QoS 1 PUBLISH). */
  get pubacks(): PubackQueue {
    this.pubackQueue ??= new PubackQueue(this);
    return this.pubackQueue;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Refused requests (subscriptions): logged up to a limit, then counted; too many close the connection. */
  get refusals(): RefusalLog {
    this.refusalLog ??= new RefusalLog(
      this.logger,
      this.owner.ctx.config.connections,
      () => this.close('too many refused requests', 'warn'),
      undefined,
      (label) => this.owner.ctx.refusalMeter?.refused('mqtt', label),
    );
    return this.refusalLog;
  }

  /** Write one packet. False when the stream wants us to wait for 'drain'. */
  send(packet: Packet): boolean {
    return this.write(generate(packet, { protocolVersion: 4 }));
  }

  /** Write one encoded packet. False when the stream wants us to wait for 'drain'. */
  write(bytes: Buffer): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false;
    const ok = this.stream.write(bytes);
    if (!ok) this.stallWatch().wrote(ok);
    if (this.stream.writableLength > MAX_WRITE_BUFFER_BYTES) {
      this.close('the client does not read what the hub sends', 'warn');
      return false;
    }
    return ok;
  }

  /** Around a batch of writes: they leave in one write (one TLS record). */
  cork(): void {
    this.stream.cork();
  }

  uncork(): void {
    this.stream.uncork();
  }

  /** Resolves on 'drain' or when the connection closes. */
  drained(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiters ??= [];
      this.drainWaiters.push(resolve);
    });
  }

  /** CONNECT accepted: CONNACK 0, then keep-alive, token expiry and delivery start. */
  establish(e: Established): void {
    const { ctx } = this.owner;
    this.state = 'connected';
    this.deviceId = e.deviceId;
    this.cleanSession = e.cleanSession;
    this.c2dQos = e.c2dQos;
    this.logger.deviceId = e.deviceId;
    this.firstPacketTimer?.cancel();
    this.firstPacketTimer = undefined;
    this.send({ cmd: 'connack', returnCode: 0, sessionPresent: e.sessionPresent });
    const timeout = keepAliveTimeoutMs(e.keepaliveSeconds);
    this.keepAlive = new KeepAliveWatchdog(ctx.clock, timeout, () =>
      this.close(`keep-alive timeout (${timeout / 1000} s without a packet)`, 'info'),
    );
    if (e.tokenExpiresAt !== undefined) {
      this.keepAlive.closeAt(e.tokenExpiresAt, () => this.close('the SAS token expired', 'info'));
    }
    ctx.registry.setConnectionState(e.deviceId, 'Connected');
    ctx.registry.touch(e.deviceId);
    this.lastTouch = ctx.clock.now();
    this.pump = new DeliveryPump({
      deviceId: e.deviceId,
      engine: ctx.engine,
      clock: ctx.clock,
      maxInflight: Math.max(1, ctx.config.mqtt.maxInflight),
      logger: this.logger,
      out: this,
    });
    this.logger.info(
      {
        cleanSession: e.cleanSession,
        sessionPresent: e.sessionPresent,
        c2dQos: e.c2dQos,
        keepalive: e.keepaliveSeconds,
      },
      'MQTT device connected',
    );
    this.pump.setQos(e.c2dQos);
    if (ctx.twins) this.twin = new TwinTopics(this, ctx.twins, e.twinSubs);
    if (ctx.methods) this.methods = new MethodTopics(this, ctx.methods, e.methodsSubscribed === true);
  }

  /**
   * Refuse CONNECT with a CONNACK return code, then close. Logged unless the device was refused
   * for the same `cause` (a stable word; `why` by default) often lately, hub-wide
   * (../refusal-throttle.ts): a device reconnecting in a loop is summarised, not logged per attempt.
   * Counted by the CONNACK code's name (ferry_refusals_total).
   */
  refuse(returnCode: number, why: string, cause = why): void {
    this.owner.ctx.refusalMeter?.refused('mqtt', connackCause(returnCode));
    this.refused = true;
    this.send({ cmd: 'connack', returnCode, sessionPresent: false });
    // The line names the device the CONNECT claimed (nothing proved it: it was refused).
    if (this.claimedId !== undefined) this.logger.deviceId ??= this.claimedId;
    const device = this.claimedId ?? this.info.remoteAddress ?? 'unknown';
    const logged = this.owner.ctx.refusals?.admit(device, cause) ?? true;
    this.close(`CONNECT refused with CONNACK ${returnCode}: ${why}`, logged ? 'info' : 'debug');
  }

  /** The registry says the device may no longer be connected (see ../device-change.ts). */
  cutOff(cut: CutOff): void {
    if (this.closed) return;
    if (this.state === 'connected') {
      this.close(`${cut.reason} (${cut.error})`, 'info');
      return;
    }
    // Not answered yet: refuse as a CONNECT arriving after the change would be.
    const code = cut.error === 'DeviceDisabled' ? CONNACK.serverUnavailable : CONNACK.notAuthorized;
    this.refuse(code, cut.reason);
  }

  /**
   * Close (idempotent): stop delivery, return in-flight messages to the queue (they come back
   * with DUP), end the stream. Resolves once the messages are released.
   */
  close(reason: string, level: 'debug' | 'info' | 'warn' = 'info'): Promise<void> {
    if (this.teardown) return this.teardown;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.queue.length = 0;
    this.keepAlive?.stop();
    this.twin?.stop();
    this.methods?.stop();
    this.writeStall?.stop();
    this.refusalLog?.summarise();
    this.firstPacketTimer?.cancel();
    this.releaseDrainWaiters();
    // Garbage before a CONNECT (scanners, wrong protocol) is debug noise; refusals and closes of
    // devices are what an operator wants to see.
    const logLevel = wasConnected || this.refused ? level : 'debug';
    this.logger[logLevel]({ reason }, wasConnected ? 'MQTT connection closed' : 'MQTT connection dropped');
    this.endStream();
    this.teardown = (async () => {
      await this.pump?.stop();
      this.owner.forget(this);
    })();
    return this.teardown;
  }

  /** Activity for the registry's lastActivityTime, at most once a second. */
  touchRegistry(): void {
    const { ctx } = this.owner;
    const now = ctx.clock.now();
    if (this.deviceId === undefined || now - this.lastTouch < 1000) return;
    this.lastTouch = now;
    ctx.registry.touch(this.deviceId);
  }

  private stallWatch(): WriteStallWatch {
    const { clock, config } = this.owner.ctx;
    this.writeStall ??= new WriteStallWatch(this.stream, clock, config.connections.writeStallTimeoutMs, () =>
      this.close('the client does not read what the hub sends (writes not drained in time)', 'warn'),
    );
    return this.writeStall;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.keepAlive?.touch();
    let at = 0;
    // Whole PUBACKs (40 02 id id) and PINGREQs (c0 00) at a packet boundary skip the parser: they
    // are most of what a device sends. Anything else, or a partial packet, goes through mqtt-packet.
    if (this.parser === undefined && this.state === 'connected') {
      while (at + 2 <= chunk.length) {
        if (chunk[at] === 0x40 && chunk[at + 1] === 0x02 && at + 4 <= chunk.length) {
          this.enqueue({ cmd: 'puback', messageId: chunk.readUInt16BE(at + 2) });
          at += 4;
        } else if (chunk[at] === 0xc0 && chunk[at + 1] === 0x00) {
          this.enqueue({ cmd: 'pingreq' });
          at += 2;
        } else break;
        if (this.closed) return;
      }
      if (at === chunk.length) return;
    }
    this.parser ??= this.newParser();
    const parser = this.parser;
    let held: number;
    try {
      held = parser.parse(at === 0 ? chunk : chunk.subarray(at));
    } catch (err) {
      this.close(`malformed MQTT packet: ${(err as Error).message}`, 'warn');
      return;
    }
    if (held > MAX_BUFFERED_BYTES) this.close(`packet larger than ${MAX_BUFFERED_BYTES} bytes`, 'warn');
    else if (held === 0 && parser._stateCounter === 0 && this.state === 'connected') this.parser = undefined;
  }

  private newParser(): Parser {
    const parser = mqttParser({ protocolVersion: 4 }) as Parser;
    parser.on('packet', (p: Packet) => this.enqueue(p));
    parser.on('error', (err: Error) => this.close(`malformed MQTT packet: ${err.message}`, 'warn'));
    return parser;
  }

  private readMore(): void {
    this.readStalled = false;
    while (!this.closed) {
      if (this.queue.length >= MAX_QUEUED_PACKETS) {
        this.readStalled = true;
        return;
      }
      const chunk: Buffer | null = this.stream.read();
      if (chunk === null) return;
      this.onData(chunk);
    }
  }

  private enqueue(packet: Packet): void {
    if (this.closed) return;
    // A PUBACK with nothing ahead of it is handled at once: no queue, no await (most of the traffic).
    if (packet.cmd === 'puback' && !this.draining && this.state === 'connected') {
      try {
        this.touchRegistry();
        handlePuback(this, packet);
      } catch (err) {
        this.logger.error({ err, cmd: packet.cmd }, 'MQTT packet handler failed');
        this.close('internal error', 'warn');
      }
      return;
    }
    this.queue.push(packet);
    if (!this.draining) void this.drainQueue();
  }

  /** One packet at a time, in arrival order: CONNECT's await must not let a SUBSCRIBE overtake it. */
  private async drainQueue(): Promise<void> {
    this.draining = true;
    try {
      for (let p = this.queue.shift(); p && !this.closed; p = this.queue.shift()) {
        try {
          await this.dispatch(p);
        } catch (err) {
          this.logger.error({ err, cmd: p.cmd }, 'MQTT packet handler failed');
          this.close('internal error', 'warn');
        }
        if (this.readStalled && this.queue.length < MAX_QUEUED_PACKETS) this.readMore();
      }
    } finally {
      this.draining = false;
      // An array that held packets keeps its grown store: an idle connection should not.
      if (this.queue.length === 0) this.queue = [];
    }
  }

  private async dispatch(p: Packet): Promise<void> {
    if (this.state === 'awaiting-connect') {
      if (p.cmd !== 'connect')
        return void this.close(`the first packet must be CONNECT, got ${p.cmd.toUpperCase()}`, 'info'); // MQTT-3.1.0-1
      this.state = 'connecting';
      return handleConnect(this, p);
    }
    this.touchRegistry();
    switch (p.cmd) {
      case 'subscribe':
        return handleSubscribe(this, p);
      case 'unsubscribe':
        return handleUnsubscribe(this, p);
      case 'puback':
        return handlePuback(this, p);
      case 'pingreq':
        this.send({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        return void this.close('the client sent DISCONNECT', 'info');
      case 'publish':
        if (this.twin && p.qos < 2 && p.topic.startsWith('$iothub/twin/')) return this.twin.request(p);
        if (this.methods && p.qos < 2 && p.topic.startsWith(METHOD_PREFIX)) return this.methods.answer(p);
        return handlePublish(this, p);
      case 'connect':
        return void this.close('a second CONNECT on the same connection', 'warn'); // MQTT-3.1.0-2
      default:
        // QoS 2 flow packets (the hub never publishes QoS 2), server-to-client packets, AUTH.
        return void this.close(`unexpected ${p.cmd.toUpperCase()} packet`, 'warn');
    }
  }

  private endStream(): void {
    const { stream } = this;
    if (stream.destroyed) return;
    // end() lets the last packet (a refusing CONNACK) reach the client; destroy if it lingers.
    stream.end();
    const t = this.owner.ctx.clock.setTimer(() => stream.destroy(), CLOSE_GRACE_MS);
    stream.once('close', () => t.cancel());
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    if (!waiters) return;
    this.drainWaiters = undefined;
    for (const w of waiters) w();
  }
}

/** A CONNACK return code as the refusal's cause (MQTT 3.1.1 table 3.1). */
function connackCause(code: number): string {
  return CONNACK_CAUSES[code] ?? `connack-${code}`;
}

const CONNACK_CAUSES: Record<number, string> = {
  1: 'unacceptable-protocol-version',
  2: 'identifier-rejected',
  3: 'server-unavailable',
  4: 'bad-username-or-password',
  5: 'not-authorized',
};
