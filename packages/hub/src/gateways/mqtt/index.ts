/**
 * The MQTT 3.1.1 gateway (official-sdk-wire.md A and F "Device MQTT"): devices receive their
 * cloud-to-device messages over any Duplex the listeners hand in (TLS on 8883, WebSocket on
 * `/$iothub/websocket` with subprotocol `mqtt`).
 */
import type { Duplex } from 'node:stream';
import type { DeviceIdentity } from '../../registry/types.js';
import type { ConnectionInfo, GatewayContext, StreamGateway } from '../context.js';
import { cutOffByChange } from '../device-change.js';
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
  /** Connections between CONNECT and claim: a registry change must reach them too. */
  private readonly authenticating = new Set<MqttConnection>();
  /** When each device's live connection claimed it (a newer claim on another node takes over). */
  private readonly claimedAt = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private readonly unsubscribeCluster: () => void;
  private readonly unsubscribeCas: () => void;
  private closing = false;

  constructor(readonly ctx: GatewayContext) {
    this.sessions = ctx.sessions ?? new MemorySessionStore();
    this.unsubscribe = ctx.registry.onDeviceChange((id, identity) => this.deviceChanged(id, identity));
    this.unsubscribeCluster =
      ctx.cluster?.onRemoteConnection((protocol, id, at) => {
        if (protocol === 'mqtt') this.claimedElsewhere(id, at);
      }) ?? (() => {});
    this.unsubscribeCas = ctx.caTrust?.onRemoved((removed) => this.casRemoved(removed)) ?? (() => {});
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

  authenticate(conn: MqttConnection): void {
    this.authenticating.add(conn);
  }

  claim(deviceId: string, conn: MqttConnection): MqttConnection | undefined {
    this.authenticating.delete(conn);
    const previous = this.byDevice.get(deviceId);
    conn.deviceId = deviceId;
    this.byDevice.set(deviceId, conn);
    const now = this.ctx.clock.now();
    this.claimedAt.set(deviceId, now);
    this.ctx.cluster?.publishConnection('mqtt', deviceId, now);
    return previous === conn ? undefined : previous;
  }

  /** The device connected to another node after it connected here: the newest wins, as on one node. */
  private claimedElsewhere(deviceId: string, at: number): void {
    const conn = this.byDevice.get(deviceId);
    if (!conn || (this.claimedAt.get(deviceId) ?? 0) >= at) return;
    conn.logger.info({ deviceId }, 'a connection of the same device on another node takes over');
    void conn.close('taken over by a new connection of the same device on another node', 'info');
  }

  forget(conn: MqttConnection): void {
    this.connections.delete(conn);
    this.authenticating.delete(conn);
    const id = conn.deviceId;
    // After a takeover the device's entry already belongs to the new connection.
    if (id !== undefined && this.byDevice.get(id) === conn) {
      this.byDevice.delete(id);
      this.claimedAt.delete(id);
      this.ctx.registry.setConnectionState(id, 'Disconnected');
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    this.unsubscribeCluster();
    this.unsubscribeCas();
    await Promise.all([...this.connections].map((c) => c.close('the hub is shutting down', 'info')));
  }

  /** Verified CAs were deleted or un-verified: cut the connections whose certificate chained through one. */
  private casRemoved(removed: ReadonlySet<string>): void {
    for (const conn of [...this.authenticating, ...this.byDevice.values()]) {
      if (conn.viaCas?.some((fp) => removed.has(fp))) {
        conn.cutOff({
          error: 'IotHubUnauthorizedAccess',
          reason: 'the CA certificate its certificate chained to was deleted or is no longer verified',
        });
      }
    }
  }

  /**
   * Disabled, deleted, or its keys changed: cut off the device's connection (and one still
   * authenticating) that may no longer connect; its in-flight messages go back as on any drop.
   */
  private deviceChanged(deviceId: string, identity: DeviceIdentity | undefined): void {
    const affected = [...this.authenticating].filter((c) => c.clientId === deviceId);
    const live = this.byDevice.get(deviceId);
    if (live) affected.push(live);
    for (const conn of affected) {
      const cut = cutOffByChange(identity, conn.token, conn.certificate);
      if (cut) conn.cutOff(cut);
    }
    // The store drops the session with the device; a gateway-held session must go too, or a
    // device re-created under the same id would resume it.
    if (!identity) {
      this.sessions.deleteMqttSession(deviceId).catch((err: unknown) => {
        this.ctx.logger.error({ err, deviceId }, 'could not delete the MQTT session of a deleted device');
      });
    }
  }
}
