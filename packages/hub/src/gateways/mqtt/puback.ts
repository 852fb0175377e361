/** PUBACK: the device has the message; on MQTT this is the only completion signal (official-sdk-wire.md G.6). */
import type { IPubackPacket } from 'mqtt-packet';
import type { MqttConnection } from './connection.js';

export function handlePuback(conn: MqttConnection, packet: IPubackPacket): void {
  const packetId = packet.messageId ?? 0;
  // An unknown id is ignored: typically a late PUBACK for a delivery whose lock expired, which the
  // engine has already put back in the queue.
  if (!conn.pump?.acknowledge(packetId))
    conn.logger.debug({ packetId }, 'PUBACK for a packet id not in flight; ignored');
}
