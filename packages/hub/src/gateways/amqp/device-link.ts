/**
 * A device's receiver link from `/devices/{id}/messages/devicebound` (official-sdk-wire.md B,
 * F "Device AMQP"; c2d-semantics.md 8.2). Accepted = complete, released or modified = abandon,
 * rejected = reject; a transfer still unsettled when the link or connection goes is released back
 * to the queue as a lock expiry would.
 */
import type { Delivery } from '@ferry/common';
import type { Logger } from 'pino';
import type { Message, Sender } from 'rhea';
import type { Operation } from '../../auth/types.js';
import type { C2dEngine } from '../../engine/types.js';
import type { Registry } from '../../registry/types.js';
import { amqpError } from './errors.js';
import { encodeDelivery } from './message-codec.js';
import { type Outcome, OutgoingLink } from './outgoing-link.js';

/** Transfers one device link may have unsettled, whatever credit the device grants. */
export const DEVICE_MAX_UNSETTLED = 256;
const DEVICE_LEASE_BATCH = 32;

interface DeviceLinkDeps {
  engine: C2dEngine;
  registry: Registry;
  logger: Logger;
  /** Called once when this link is gone (so the gateway forgets it as the device's link). */
  onGone: (link: DeviceLink) => void;
}

export class DeviceLink extends OutgoingLink<Delivery> {
  readonly requires: Operation;
  private unsubscribe: (() => void) | undefined;

  constructor(
    sender: Sender,
    readonly deviceId: string,
    private readonly deps: DeviceLinkDeps,
  ) {
    super(sender, deps.logger, DEVICE_MAX_UNSETTLED, DEVICE_LEASE_BATCH);
    this.requires = { permission: 'DeviceConnect', deviceId };
  }

  /** Checks the device exists and is enabled, then starts delivering. */
  async begin(): Promise<void> {
    const identity = await this.deps.registry.identity(this.deviceId);
    if (this.closed) return;
    if (identity?.status !== 'enabled') {
      await this.close(amqpError('DeviceNotFound', `Device "${this.deviceId}" is not registered or is disabled`));
      return;
    }
    this.deps.registry.setConnectionState(this.deviceId, 'Connected');
    this.unsubscribe = this.deps.engine.onAvailable(this.deviceId, () => this.signal());
    this.start();
  }

  protected lease(n: number): Promise<Delivery[]> {
    return this.deps.engine.receive(this.deviceId, n, 'amqp');
  }

  protected encode(d: Delivery): Message {
    return encodeDelivery(d);
  }

  protected async settle(lockToken: string, outcome: Outcome): Promise<void> {
    const { engine, registry } = this.deps;
    registry.touch(this.deviceId);
    if (outcome === 'accepted') await engine.complete(this.deviceId, lockToken);
    else if (outcome === 'released') await engine.abandon(this.deviceId, lockToken);
    else if (outcome === 'rejected') await engine.reject(this.deviceId, lockToken);
    else await engine.release(this.deviceId, [lockToken]);
  }

  protected giveBack(lockTokens: string[]): Promise<void> {
    return this.deps.engine.release(this.deviceId, lockTokens);
  }

  protected override onGone(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.deps.onGone(this);
  }
}
