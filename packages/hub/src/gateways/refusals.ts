/**
 * Refused requests on one connection (link attaches, put-tokens, subscriptions): the first
 * connections.loggedRefusals are logged one by one, the rest only counted and summarised once when
 * the connection ends, so a peer cannot fill the disk with refusals; past connections.maxRefusals
 * the connection is closed. A refusal that names its device and cause is also judged hub-wide
 * (refusal-throttle.ts): a device refused again and again over new connections is summarised.
 * Every refusal is also counted by its label (ferry_refusals_total), logged or not.
 */
import type { ConnectionLimits } from '../config/types.js';
import type { LineLogger } from './connection-log.js';
import type { RefusalThrottle } from './refusal-throttle.js';

/** Who was refused for what, for the hub-wide count: `device` undefined = the remote address. */
export interface RefusalKey {
  device: string | undefined;
  cause: string;
}

export class RefusalLog {
  private refusedCount = 0;
  private closed = false;

  constructor(
    private readonly logger: LineLogger,
    private readonly limits: Pick<ConnectionLimits, 'maxRefusals' | 'loggedRefusals'>,
    /** Called once, when the connection has made maxRefusals refused requests. */
    private readonly onTooMany: () => void,
    /** The hub-wide count, and who this connection is when a refusal names no device. */
    private readonly hubWide?: { throttle: RefusalThrottle | undefined; remoteAddress: string | undefined },
    /** Counts each refusal by its label (the hub's metrics). */
    private readonly count: (label: string) => void = () => undefined,
  ) {}

  /** How many requests were refused so far. */
  get total(): number {
    return this.refusedCount;
  }

  /** `label`: a short stable word for the metrics (e.g. 'topic-not-allowed'); `key`: the hub-wide throttle's. */
  refused(fields: object, message: string, label: string, key?: RefusalKey): void {
    this.count(label);
    this.refusedCount++;
    const { loggedRefusals, maxRefusals } = this.limits;
    if (this.refusedCount <= loggedRefusals && this.hubWideAdmits(key)) this.logger.info(fields, message);
    if (this.refusedCount === loggedRefusals + 1) {
      this.logger.info({ logged: loggedRefusals }, 'further refusals on this connection are counted, not logged');
    }
    if (this.refusedCount >= maxRefusals && !this.closed) {
      this.closed = true;
      this.logger.warn({ refused: this.refusedCount }, 'too many refused requests: closing the connection');
      this.onTooMany();
    }
  }

  private hubWideAdmits(key: RefusalKey | undefined): boolean {
    const throttle = this.hubWide?.throttle;
    if (!key || !throttle) return true;
    return throttle.admit(key.device ?? this.hubWide?.remoteAddress ?? 'unknown', key.cause);
  }

  /** At the end of the connection: one line for what was not logged. */
  summarise(): void {
    const unlogged = this.refusedCount - this.limits.loggedRefusals;
    if (unlogged > 0) this.logger.info({ refused: this.refusedCount, unlogged }, 'refused requests on this connection');
  }
}
