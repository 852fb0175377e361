/**
 * PUBLISH from a device. Telemetry (`devices/{own id}/messages/events/...`) is appended to the
 * event log; a QoS 1 PUBACK goes out only once it is durable, and PUBACKs leave in the order the
 * PUBLISHes came (MQTT-4.6.0-2). Anything IoT Hub would refuse closes the connection, as IoT Hub
 * does (MQTT 3.1.1 has no error for a PUBLISH): another device's topic, a bad property bag, a
 * message over 256 KB, QoS 2, and topics not served (twins, methods) until their domains exist.
 * A message asking for a fault (../fault-injection.ts) closes the connection after its delay.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { TelemetryMessage, TelemetrySender } from '../../telemetry/types.js';
import { requestedFault } from '../fault-injection.js';
import type { MqttConnection } from './connection.js';
import { telemetryFromPublish, telemetryTopicDevice } from './telemetry-topic.js';

/** PUBACKs of one connection, released in order as their commits answer. */
export class PubackQueue {
  private readonly waiting: Array<{ packetId: number; done: boolean }> = [];

  constructor(private readonly conn: MqttConnection) {}

  /** A QoS 1 PUBLISH was handed over; returns the callback that marks it committed. */
  add(packetId: number): () => void {
    const entry = { packetId, done: false };
    this.waiting.push(entry);
    return () => {
      entry.done = true;
      while (this.waiting[0]?.done) this.conn.send({ cmd: 'puback', messageId: this.waiting.shift()!.packetId });
    };
  }
}

function shortTopic(topic: string): string {
  return topic.length > 200 ? `${topic.slice(0, 200)}...` : topic;
}

export function handlePublish(conn: MqttConnection, packet: IPublishPacket): void {
  const topic = shortTopic(packet.topic);
  if (packet.qos === 2) {
    conn.close(`PUBLISH with QoS 2 to "${topic}": IoT Hub does not support QoS 2`, 'warn');
    return;
  }
  const telemetry = conn.owner.ctx.telemetry;
  const target = telemetryTopicDevice(packet.topic);
  if (target === undefined || !telemetry) {
    conn.close(`PUBLISH to "${topic}" is not supported`, 'warn');
    return;
  }
  // Authorization first: a device publishes as itself only.
  if (target !== conn.deviceId) {
    conn.close(`PUBLISH to "${topic}": device "${conn.deviceId}" may not send as device "${target}"`, 'warn');
    return;
  }
  let message: TelemetryMessage;
  try {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    message = telemetryFromPublish(packet.topic, payload);
  } catch (err) {
    conn.close(`PUBLISH to "${topic}" refused: ${(err as Error).message}`, 'info');
    return;
  }
  const sender: TelemetrySender = {
    deviceId: target,
    auth: conn.certificate ? 'x509' : 'sas',
    scope: conn.token?.includes('skn=') ? 'hub' : 'device',
  };
  const acked = packet.qos === 1 ? conn.pubacks.add(packet.messageId ?? 0) : undefined;
  telemetry.send(sender, [message], (err) => {
    if (conn.closed) return;
    if (err) {
      conn.close(`telemetry refused: ${err.message}`, 'info');
      return;
    }
    acked?.();
    injectFault(conn, message);
  });
}

/** Fault injection (../fault-injection.ts): over MQTT, KillTcp and ShutDownMqtt close the connection. */
function injectFault(conn: MqttConnection, message: TelemetryMessage): void {
  const fault = requestedFault([message]);
  if (fault?.operation !== 'KillTcp' && fault?.operation !== 'ShutDownMqtt') return;
  conn.owner.ctx.clock.setTimer(() => void conn.close(`fault injection: ${fault.operation}`), fault.delayMs);
}
