/**
 * Fault injection on one AMQP connection (../fault-injection.ts says what a device asks for):
 * after the delay, the socket is destroyed, the connection or the session closed, or one of the
 * device's links detached from the hub side, each with an error whose description is the close
 * reason the device gave. The official device client then sees what it would see on IoT Hub: its
 * connection is gone (a link or session it needs was taken away), and it reconnects or reports it.
 */
import type { Logger } from 'pino';
import type { AmqpError, Receiver, Sender } from 'rhea';
import type { Clock, TimerHandle } from '../../clock.js';
import type { Fault, FaultOperation } from '../fault-injection.js';
import { type LinkAddress, linkAddressOf } from './addresses.js';

type Link = Sender | Receiver;

/** The link each link fault detaches: its address kind, and whether the hub is its sending end. */
const LINK_FAULTS: Partial<Record<FaultOperation, { kind: LinkAddress['kind']; hubSends: boolean }>> = {
  KillAmqpCBSLinkReq: { kind: 'cbs', hubSends: false },
  KillAmqpCBSLinkResp: { kind: 'cbs', hubSends: true },
  KillAmqpD2CLink: { kind: 'device-events', hubSends: false },
  KillAmqpC2DLink: { kind: 'device-bound', hubSends: true },
  KillAmqpTwinLinkReq: { kind: 'device-twin', hubSends: false },
  KillAmqpTwinLinkResp: { kind: 'device-twin', hubSends: true },
  KillAmqpMethodReqLink: { kind: 'device-methods', hubSends: true },
  KillAmqpMethodRespLink: { kind: 'device-methods', hubSends: false },
};

/** What the injector may do to its connection. */
export interface AmqpFaultTarget {
  links(): Iterable<Link>;
  /** Detaches a link the connection serves, from the hub side, with `error`. */
  detach(link: Link, error: AmqpError): void;
  /** Closes the AMQP connection (with `error`, or cleanly). */
  close(error?: AmqpError): void;
  destroySocket(): void;
}

export class AmqpFaultInjector {
  private readonly timers = new Set<TimerHandle>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly target: AmqpFaultTarget,
  ) {}

  /** `deviceId` sent the fault request on `via` (its telemetry link). */
  request(fault: Fault, deviceId: string, via: Receiver): void {
    this.logger.info({ deviceId, operation: fault.operation, delayMs: fault.delayMs }, 'fault injection requested');
    const timer = this.clock.setTimer(() => {
      this.timers.delete(timer);
      this.inject(fault, deviceId, via);
    }, fault.delayMs);
    this.timers.add(timer);
  }

  /** The connection is gone: faults not yet due are dropped. */
  dispose(): void {
    for (const timer of this.timers) timer.cancel();
    this.timers.clear();
  }

  /**
   * Ends the sessions, then closes the connection, in one write: the official client tears down
   * at once on a session end, where after a bare close it would wait for answers to the detaches
   * it sends after its own close (and give up only 45 s later).
   */
  private closeConnection(error?: AmqpError): void {
    const sessions = new Set([...this.target.links()].map((link) => link.session));
    for (const session of sessions) session.close(error);
    this.target.close(error);
  }

  private inject(fault: Fault, deviceId: string, via: Receiver): void {
    const description = fault.reason;
    switch (fault.operation) {
      case 'KillTcp':
        this.target.destroySocket();
        return;
      case 'KillAmqpConnection':
        // Not amqp:connection:forced, which the official client takes for a reason not to reconnect.
        this.closeConnection({ condition: 'amqp:internal-error', description });
        return;
      case 'ShutDownAmqp':
        this.closeConnection();
        return;
      case 'KillAmqpSession':
        via.session.close({ condition: 'amqp:internal-error', description });
        return;
      case 'ShutDownMqtt':
        return;
    }
    const wanted = LINK_FAULTS[fault.operation];
    if (!wanted) return;
    for (const link of [...this.target.links()]) {
      const address = linkAddressOf(link);
      const own = !('deviceId' in address) || address.deviceId === deviceId;
      if (address.kind === wanted.kind && link.is_sender() === wanted.hubSends && own) {
        this.target.detach(link, { condition: 'amqp:link:detach-forced', description });
      }
    }
  }
}
