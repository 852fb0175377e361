/**
 * Device twins over MQTT, as azure-iot-device-mqtt speaks them (MqttTwinClient):
 *   SUBSCRIBE $iothub/twin/res/# and $iothub/twin/PATCH/properties/desired/# (QoS 0)
 *   PUBLISH   $iothub/twin/GET/?$rid={rid}                       -> $iothub/twin/res/200/?$rid={rid}, the twin
 *   PUBLISH   $iothub/twin/PATCH/properties/reported/?$rid={rid} -> $iothub/twin/res/204/?$rid={rid}&$version={v}
 *   desired change                                               -> $iothub/twin/PATCH/properties/desired/?$version={v}
 * A refused request is answered $iothub/twin/res/{status}/?$rid={rid} with {"errorCode", "message"}
 * (the SDK turns a body with errorCode into an error); the connection stays open.
 *
 * The two subscriptions of a clean-session-0 connection outlive it (the official client does not
 * subscribe again after a token-renewal reconnect): they are kept in its stored session.
 */
import { FerryError } from '@ferry/common';
import type { IPublishPacket } from 'mqtt-packet';
import type { DesiredChange, Twins } from '../../twins/index.js';
import { DesiredNotifier } from '../twin-desired.js';
import { twinError } from '../twin-errors.js';
import type { MqttConnection } from './connection.js';

export const TWIN_RESPONSE_FILTER = '$iothub/twin/res/#';
export const TWIN_DESIRED_FILTER = '$iothub/twin/PATCH/properties/desired/#';
const PREFIX = '$iothub/twin/';

/** Which twin topics a device is subscribed to. */
export interface TwinSubscriptions {
  responses: boolean;
  desired: boolean;
}

/** The twin side of one MQTT connection: its subscriptions and the desired-property notifications. */
export class TwinTopics {
  readonly subs: TwinSubscriptions;
  private readonly desired: DesiredNotifier;
  /** Resolves once desired notifications are set up (the SUBACK waits for it, so no change slips between). */
  ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly conn: MqttConnection,
    private readonly twins: Twins,
    subs: TwinSubscriptions | undefined,
  ) {
    this.subs = subs ? { ...subs } : { responses: false, desired: false };
    this.desired = new DesiredNotifier(twins, conn.deviceId!, (change) => this.notify(change), conn.logger);
    if (this.subs.desired) this.ready = this.desired.start();
  }

  /** A SUBSCRIBE filter: the granted QoS (0: the hub publishes twin topics at QoS 0), or undefined when not a twin filter. */
  subscribe(filter: string): 0 | undefined {
    if (filter === TWIN_RESPONSE_FILTER) {
      this.subs.responses = true;
      return 0;
    }
    if (filter === TWIN_DESIRED_FILTER) {
      this.subs.desired = true;
      if (!this.desired.started) this.ready = this.desired.start();
      return 0;
    }
    return undefined;
  }

  unsubscribe(filter: string): void {
    if (filter === TWIN_RESPONSE_FILTER) this.subs.responses = false;
    if (filter === TWIN_DESIRED_FILTER) {
      this.subs.desired = false;
      this.desired.stop();
    }
  }

  stop(): void {
    this.desired.stop();
  }

  /** A PUBLISH to $iothub/twin/...: answered on the response topic. */
  async request(packet: IPublishPacket): Promise<void> {
    if (packet.qos === 1) this.conn.send({ cmd: 'puback', messageId: packet.messageId! });
    const { path, rid } = parseRequestTopic(packet.topic);
    if (rid === undefined) {
      this.conn.refusals.refused(
        { topic: packet.topic.slice(0, 200) },
        'twin request without $rid ignored',
        'twin-request-without-rid',
      );
      return;
    }
    const deviceId = this.conn.deviceId!;
    try {
      if (path === 'GET/') {
        const twin = await this.twins.getForDevice(deviceId);
        if (typeof twin.desired.$version === 'number') this.desired.saw(twin.desired.$version);
        this.respond(200, rid, undefined, JSON.stringify(twin));
      } else if (path === 'PATCH/properties/reported/') {
        const version = await this.twins.updateReported(deviceId, parseBody(packet.payload));
        this.respond(204, rid, version, '');
      } else {
        throw new FerryError('NotFound', `twin operation ${path.slice(0, 100)} is not served`);
      }
    } catch (err) {
      const e = twinError(err);
      if (e.httpStatus >= 500)
        this.conn.logger.error({ err, topic: packet.topic.slice(0, 200) }, 'MQTT twin request failed');
      else this.conn.logger.info({ code: e.errorName, reason: e.message }, 'MQTT twin request refused');
      this.respond(e.httpStatus, rid, undefined, JSON.stringify({ errorCode: e.code, message: e.message }));
    }
  }

  private respond(status: number, rid: string, version: number | undefined, body: string): void {
    const q = version === undefined ? '' : `&$version=${version}`;
    this.conn.send({
      cmd: 'publish',
      topic: `${PREFIX}res/${status}/?$rid=${encodeURIComponent(rid)}${q}`,
      payload: body,
      qos: 0,
      retain: false,
      dup: false,
    });
  }

  private notify(change: DesiredChange): void {
    if (this.conn.closed) return;
    this.conn.send({
      cmd: 'publish',
      topic: `${PREFIX}PATCH/properties/desired/?$version=${change.version}`,
      payload: JSON.stringify(change.patch),
      qos: 0,
      retain: false,
      dup: false,
    });
  }
}

/** `$iothub/twin/GET/?$rid=1` -> { path: 'GET/', rid: '1' }; methods are matched case-insensitively. */
export function parseRequestTopic(topic: string): { path: string; rid: string | undefined } {
  const rest = topic.slice(PREFIX.length);
  const q = rest.indexOf('?');
  let path = q < 0 ? rest : rest.slice(0, q);
  const method = path.slice(0, path.indexOf('/') + 1);
  path = method.toUpperCase() + path.slice(method.length);
  if (!path.endsWith('/')) path += '/';
  const rid = q < 0 ? undefined : (new URLSearchParams(rest.slice(q + 1)).get('$rid') ?? undefined);
  return { path, rid: rid === '' ? undefined : rid };
}

function parseBody(payload: Buffer | string): unknown {
  try {
    return JSON.parse(payload.toString());
  } catch {
    throw new FerryError('ArgumentInvalid', 'the reported properties are not valid JSON');
  }
}
