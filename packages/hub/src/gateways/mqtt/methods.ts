/**
 * Direct methods over MQTT, as azure-iot-device-mqtt speaks them:
 *   SUBSCRIBE $iothub/methods/POST/#                      (granted QoS 0)
 *   hub -> device  $iothub/methods/POST/{method}/?$rid={rid}   the payload, JSON
 *   device -> hub  $iothub/methods/res/{status}/?$rid={rid}    the answer, JSON (or empty)
 * An answer the hub cannot match (a rid never sent, answered already, or late), with a status
 * that is not a whole number, or a payload that is not JSON is logged and otherwise ignored: the
 * connection stays open (a call answered with non-JSON fails for its caller).
 *
 * The subscription of a clean-session-0 connection outlives it, as the twin subscriptions do: it
 * is kept in the device's persistent session (the store's MQTT session record), so a device that
 * reconnects without subscribing again (the official clients' SAS renewal) still gets its calls,
 * on whichever node it reconnects to and after a restart.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { MethodRequest, Methods } from '../../methods/index.js';
import type { MqttConnection } from './connection.js';

export const METHOD_FILTER = '$iothub/methods/POST/#';
export const METHOD_PREFIX = '$iothub/methods/';
const ANSWER_PREFIX = '$iothub/methods/res/';

export class MethodTopics {
  private detach: (() => void) | undefined;

  /** `subscribed`: the resumed session (clean session 0) had subscribed. */
  constructor(
    private readonly conn: MqttConnection,
    private readonly methods: Methods,
    public subscribed: boolean,
  ) {
    if (subscribed) this.start();
  }

  /** A SUBSCRIBE filter: QoS 0 granted for the methods filter, undefined for any other. */
  subscribe(filter: string): 0 | undefined {
    if (filter !== METHOD_FILTER) return undefined;
    this.subscribed = true;
    this.start();
    return 0;
  }

  unsubscribe(filter: string): void {
    if (filter !== METHOD_FILTER) return;
    this.subscribed = false;
    this.stop();
  }

  stop(): void {
    this.detach?.();
    this.detach = undefined;
  }

  /** A PUBLISH to $iothub/methods/...: the device's answer. */
  answer(packet: IPublishPacket): void {
    if (packet.qos === 1) this.conn.send({ cmd: 'puback', messageId: packet.messageId! });
    const topic = packet.topic.slice(0, 200);
    const parsed = parseAnswerTopic(packet.topic);
    if (!parsed) {
      this.conn.refusals.refused(
        { topic },
        'method answer ignored: not $iothub/methods/res/{status}/?$rid={rid}',
        'method-answer-malformed',
      );
      return;
    }
    const outcome = this.methods.answer(this.conn.deviceId!, parsed.rid, parsed.status, packet.payload);
    if (outcome === 'unknown-rid')
      this.conn.logger.info(
        { rid: parsed.rid.slice(0, 64) },
        'method answer ignored: no call waits under this rid (answered twice, late, or never sent)',
      );
    else if (outcome === 'not-json')
      this.conn.logger.info(
        { rid: parsed.rid.slice(0, 64) },
        'method answer is not JSON: the call fails for its caller',
      );
  }

  private start(): void {
    if (this.detach) return;
    this.detach = this.methods.attach(this.conn.deviceId!, { deliver: (r) => this.deliver(r) });
  }

  private deliver(request: MethodRequest): void {
    if (this.conn.closed) throw new Error('the MQTT connection is closed');
    this.conn.send({
      cmd: 'publish',
      topic: `${METHOD_PREFIX}POST/${request.methodName}/?$rid=${encodeURIComponent(request.rid)}`,
      payload: request.payloadJson,
      qos: 0,
      retain: false,
      dup: false,
    });
  }
}

/** `$iothub/methods/res/200/?$rid=1` -> { status: 200, rid: '1' }; undefined when malformed. */
export function parseAnswerTopic(topic: string): { status: number; rid: string } | undefined {
  if (!topic.startsWith(ANSWER_PREFIX)) return undefined;
  const rest = topic.slice(ANSWER_PREFIX.length);
  const q = rest.indexOf('?');
  if (q < 0) return undefined;
  const statusText = rest.slice(0, q).replace(/\/$/, '');
  if (!/^-?\d{1,9}$/.test(statusText)) return undefined;
  const rid = new URLSearchParams(rest.slice(q + 1)).get('$rid');
  if (!rid) return undefined;
  return { status: Number(statusText), rid };
}
