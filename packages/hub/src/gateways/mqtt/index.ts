/**
 * The MQTT 3.1.1 gateway (official-sdk-wire.md A and F "Device MQTT"): devices receive their
 * cloud-to-device messages over any Duplex the listeners hand in (TLS on 8883, WebSocket on
 * `/$iothub/websocket` with subprotocol `mqtt`).
 */
import type { Duplex } from 'node:stream';
import type { ConnectionInfo, GatewayContext, StreamGateway } from '../context.js';
import { type ConnectionOwner, MqttConnection } from './connection.js';
import { MemorySessionStore, type MqttSessionStore } from './session.js';

export { CONNACK } from './connect.js';
export { c2dPropertyBag, c2dTopic, c2dTopicFilter } from './topic.js';

export function createMqttGateway(ctx: GatewayContext): StreamGateway {
  return new MqttGateway(ctx);
}

class MqttGateway implements StreamGateway, ConnectionOwner {
  readonly sessions: MqttSessionStore;
  private readonly connections = new Set<MqttConnection>();
  private readonly byDevice = new Map<string, MqttConnection>();
  private closing = false;

  constructor(readonly ctx: GatewayContext) {
    this.sessions = ctx.sessions ?? new MemorySessionStore();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  get establishedCount(): number {
    return this.byDevice.size;
  }

  handle(stream: Duplex, info: ConnectionInfo): void {
    if (this.closing) {
      stream.destroy();
      return;
    }
    this.connections.add(new MqttConnection(stream, info, this));
  }

  hasDevice(deviceId: string): boolean {
    return this.byDevice.has(deviceId);
  }

  claim(deviceId: string, conn: MqttConnection): MqttConnection | undefined {
    const previous = this.byDevice.get(deviceId);
    conn.deviceId = deviceId;
    this.byDevice.set(deviceId, conn);
    return previous === conn ? undefined : previous;
  }

  forget(conn: MqttConnection): void {
    this.connections.delete(conn);
    const id = conn.deviceId;
    // After a takeover the device's entry already belongs to the new connection.
    if (id !== undefined && this.byDevice.get(id) === conn) {
      this.byDevice.delete(id);
      this.ctx.registry.setConnectionState(id, 'Disconnected');
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.connections].map((c) => c.close('the hub is shutting down', 'info')));
  }
}
