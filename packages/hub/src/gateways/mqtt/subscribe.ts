/**
 * SUBSCRIBE / UNSUBSCRIBE. IoT Hub is not a general broker: the only filters a device may use here
 * are its own C2D topic, the two twin topics (twin.ts) and the methods topic (methods.ts); everything else is refused in the
 * SUBACK (0x80) without closing.
 */
import type { ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import { twinSubsBits } from '../../store/rows.js';
import type { MqttSessionRecord } from '../../store/types.js';
import type { MqttConnection } from './connection.js';
import { c2dTopicFilter } from './topic.js';

const SUBACK_FAILURE = 0x80;

export async function handleSubscribe(conn: MqttConnection, packet: ISubscribePacket): Promise<void> {
  const deviceId = conn.deviceId!;
  const own = c2dTopicFilter(deviceId);
  const max = conn.owner.ctx.config.mqtt.maxSubscriptions;
  let qos = conn.c2dQos;
  const subsBefore = iothubBits(conn);
  const granted = packet.subscriptions.map(({ topic, qos: requested }, i) => {
    // "A device can only subscribe to five topics at a time" (c2d-semantics.md 8.1).
    if (i >= max) {
      conn.refusals.refused(
        { topic, max },
        'SUBSCRIBE refused: more filters than mqtt.maxSubscriptions',
        'too-many-subscriptions',
      );
      return SUBACK_FAILURE;
    }
    const twin = conn.twin?.subscribe(topic);
    if (twin !== undefined) return twin;
    const method = conn.methods?.subscribe(topic);
    if (method !== undefined) return method;
    if (topic !== own) {
      conn.refusals.refused(
        { topic },
        'SUBSCRIBE refused: a device may only subscribe to its own C2D topic',
        'topic-not-allowed',
      );
      return SUBACK_FAILURE;
    }
    // QoS 2 is granted as 1: the hub never publishes QoS 2.
    qos = requested === 0 ? 0 : 1;
    return qos;
  });
  if (qos !== conn.c2dQos || iothubBits(conn) !== subsBefore) await saveSession(conn, qos);
  await conn.twin?.ready;
  conn.send({ cmd: 'suback', messageId: packet.messageId!, granted });
  if (qos !== conn.c2dQos) {
    conn.logger.info({ qos }, 'MQTT C2D subscription');
    conn.c2dQos = qos;
    // After the SUBACK, so the client learns of its subscription before the first message.
    conn.pump?.setQos(qos);
  }
}

export async function handleUnsubscribe(conn: MqttConnection, packet: IUnsubscribePacket): Promise<void> {
  const own = c2dTopicFilter(conn.deviceId!);
  const subsBefore = iothubBits(conn);
  for (const filter of packet.unsubscriptions) {
    conn.twin?.unsubscribe(filter);
    conn.methods?.unsubscribe(filter);
  }
  const c2dGone = packet.unsubscriptions.includes(own) && conn.c2dQos !== null;
  if (iothubBits(conn) !== subsBefore && !c2dGone) await saveSession(conn, conn.c2dQos);
  if (c2dGone) {
    await saveSession(conn, null);
    conn.c2dQos = null;
    // Messages already in flight may still be acknowledged; nothing new is leased.
    conn.pump?.setQos(null);
  }
  conn.send({ cmd: 'unsuback', messageId: packet.messageId!, granted: [] });
}

async function saveSession(conn: MqttConnection, c2dQos: 0 | 1 | null): Promise<void> {
  // A clean session lives and dies with the connection; only clean session 0 is stored.
  if (conn.cleanSession) return;
  const twin = conn.twin?.subs;
  const session: MqttSessionRecord = { deviceId: conn.deviceId!, c2dQos };
  if (twin && (twin.responses || twin.desired)) session.twin = { ...twin };
  if (conn.methods?.subscribed) session.methods = true;
  await conn.owner.sessions.putMqttSession(session);
}

/** The connection's $iothub subscriptions (twin topics, methods) as a number, to see whether a packet changed them. */
function iothubBits(conn: MqttConnection): number {
  return twinSubsBits({ twin: conn.twin?.subs, methods: conn.methods?.subscribed ? true : undefined });
}
