/**
 * The AMQP 1.0 gateway (issue 3): the official service SDK sends C2D and receives feedback, the
 * official AMQP device client receives. rhea is the codec and protocol engine, acting as a server
 * on whatever Duplex a listener hands over (TLS socket on 5671, WebSocket stream for AMQPWSB10,
 * in-memory pair in tests). Device-to-cloud telemetry is refused with amqp:not-implemented.
 */
import type { Duplex } from 'node:stream';
import type { AmqpError } from 'rhea';
import type { DeviceIdentity } from '../../registry/types.js';
import type { ConnectionInfo, GatewayContext, StreamGateway } from '../context.js';
import { cutOffByChange } from '../device-change.js';
import { AmqpConnection, type DeviceLinkDirectory } from './connection.js';
import type { DeviceLink } from './device-link.js';
import { amqpError, CONNECTION_FORCED, RESOURCE_LIMIT_EXCEEDED } from './errors.js';
import { installRheaPatches } from './rhea-patches.js';

export { MAX_FRAME_SIZE } from './connection.js';

class DeviceLinks implements DeviceLinkDirectory {
  private readonly byDevice = new Map<string, DeviceLink>();
  /** When each device's live link claimed it (a newer claim on another node takes over). */
  private readonly claimedAt = new Map<string, number>();

  constructor(private readonly ctx: GatewayContext) {}

  claim(link: DeviceLink): void {
    const old = this.byDevice.get(link.deviceId);
    this.byDevice.set(link.deviceId, link);
    const now = this.ctx.clock.now();
    this.claimedAt.set(link.deviceId, now);
    this.ctx.cluster?.publishConnection('amqp', link.deviceId, now);
    if (old && old !== link) {
      this.ctx.logger.info({ deviceId: link.deviceId }, 'a new device link replaces the old one');
      void old.close(amqpError('LinkCreationConflict', 'A newer link for this device replaced this one'));
    }
  }

  /** The device attached on another node after it attached here: the newest wins, as on one node. */
  claimedElsewhere(deviceId: string, at: number): void {
    const link = this.byDevice.get(deviceId);
    if (!link || (this.claimedAt.get(deviceId) ?? 0) >= at) return;
    this.ctx.logger.info({ deviceId }, 'a device link on another node replaces this one');
    void link.close(
      amqpError('LinkCreationConflict', 'A newer link for this device on another node replaced this one'),
    );
  }

  /** Detach the device's C2D link (its unsettled messages go back to the queue). */
  cutOff(deviceId: string, reason: string, error: AmqpError): void {
    const link = this.byDevice.get(deviceId);
    if (!link) return;
    this.ctx.logger.info({ deviceId, reason }, 'device link detached by a registry change');
    void link.close(error);
  }

  gone(link: DeviceLink): void {
    if (this.byDevice.get(link.deviceId) !== link) return;
    this.byDevice.delete(link.deviceId);
    this.claimedAt.delete(link.deviceId);
    this.ctx.registry.setConnectionState(link.deviceId, 'Disconnected');
  }
}

class AmqpGateway implements StreamGateway {
  private readonly connections = new Set<AmqpConnection>();
  private readonly devices: DeviceLinks;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeCluster: () => void;
  private readonly unsubscribeCas: () => void;
  private closing = false;
  private nextId = 1;

  constructor(private readonly ctx: GatewayContext) {
    this.devices = new DeviceLinks(ctx);
    this.unsubscribe = ctx.registry.onDeviceChange((id, identity) => this.deviceChanged(id, identity));
    this.unsubscribeCluster =
      ctx.cluster?.onRemoteConnection((protocol, id, at) => {
        if (protocol === 'amqp') this.devices.claimedElsewhere(id, at);
      }) ?? (() => {});
    this.unsubscribeCas =
      ctx.caTrust?.onRemoved((removed) => {
        for (const conn of this.connections) conn.casRemoved(removed);
      }) ?? (() => {});
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  handle(stream: Duplex, info: ConnectionInfo): void {
    const id = this.nextId++;
    const logger = this.ctx.logger.child({ amqp: id, remote: info.remoteAddress, transport: info.transport });
    // Errors are also seen by rhea (through the adapter); this one only keeps the process alive.
    stream.on('error', (err) => logger.debug({ err }, 'amqp stream error'));
    let refuse: { condition: string; description: string } | undefined;
    if (this.closing) refuse = { condition: CONNECTION_FORCED, description: 'The hub is stopping' };
    else if (this.connections.size >= this.ctx.config.amqp.maxConnections) {
      refuse = { condition: RESOURCE_LIMIT_EXCEEDED, description: 'Too many AMQP connections' };
    }
    try {
      const conn = new AmqpConnection(stream, info, {
        ctx: this.ctx,
        devices: this.devices,
        logger,
        ...(refuse ? { refuse } : {}),
      });
      this.connections.add(conn);
      void conn.closed.then(() => this.connections.delete(conn));
    } catch (err) {
      logger.error({ err }, 'could not serve amqp connection');
      stream.destroy();
    }
  }

  /**
   * Disabled or deleted: detach the device's C2D link with the matching error. Then every
   * connection drops the device tokens the change invalidates (a key change included). Registry
   * writes are rare, so a pass over the connections is cheap enough.
   */
  private deviceChanged(deviceId: string, identity: DeviceIdentity | undefined): void {
    const cut = cutOffByChange(identity, undefined);
    if (cut) this.devices.cutOff(deviceId, cut.reason, amqpError(cut.error, `Device "${deviceId}": ${cut.reason}`));
    for (const conn of this.connections) conn.deviceChanged(deviceId, identity);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.unsubscribe();
    this.unsubscribeCluster();
    this.unsubscribeCas();
    await Promise.all([...this.connections].map((c) => c.shutdown()));
  }
}

export function createAmqpGateway(ctx: GatewayContext): StreamGateway {
  // rhea 3.0.5 merges dispositions of different outcomes and loops on zero-width arrays: fixed here.
  installRheaPatches();
  return new AmqpGateway(ctx);
}
