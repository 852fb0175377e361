/**
 * PUBLISH from a device. Ferry carries cloud-to-device messages only: telemetry, twin and direct
 * method topics are not supported yet, so the connection is closed, as IoT Hub does for a topic
 * it refuses. A QoS 2 publish is a protocol error for IoT Hub and closes the connection too.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { MqttConnection } from './connection.js';

export function refusePublish(conn: MqttConnection, packet: IPublishPacket): void {
  const topic = packet.topic.length > 200 ? `${packet.topic.slice(0, 200)}...` : packet.topic;
  if (packet.qos === 2) {
    conn.close(`PUBLISH with QoS 2 to "${topic}": IoT Hub does not support QoS 2`, 'warn');
    return;
  }
  conn.close(
    `PUBLISH to "${topic}" is not supported: Ferry carries cloud-to-device messages only (no telemetry, twins or direct methods yet)`,
    'warn',
  );
}
