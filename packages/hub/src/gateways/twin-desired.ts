/**
 * Desired-property notifications for one device connection, whatever its protocol: listens to the
 * twins domain's change signal (any node) and hands the gateway each change above the $version
 * the connection has last seen, one check at a time (a signal during a check makes one more).
 */
import type { DesiredChange, Twins } from '../twins/index.js';

/** Where a notifier logs: a pino logger or a connection's log (both take fields, then a message). */
export interface TwinLog {
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export class DesiredNotifier {
  /** The desired $version the connection has been sent or has read; notifications go above it. */
  private seen: number | undefined;
  private unsubscribe: (() => void) | undefined;
  private checking = false;
  private checkAgain = false;
  private stopped = false;

  constructor(
    private readonly twins: Twins,
    private readonly deviceId: string,
    private readonly send: (change: DesiredChange) => void,
    private readonly logger: TwinLog,
  ) {}

  /** Starts listening; resolves once the current version is known (changes after it will be sent). */
  async start(): Promise<void> {
    this.stopped = false;
    this.unsubscribe ??= this.twins.onChange(this.deviceId, () => void this.check());
    if (this.seen !== undefined) return;
    try {
      const v = (await this.twins.getForDevice(this.deviceId)).desired.$version;
      if (typeof v === 'number') this.saw(v);
    } catch (err) {
      this.logger.warn({ err }, 'could not read the desired version for twin notifications');
    }
  }

  get started(): boolean {
    return this.unsubscribe !== undefined;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** The connection read the twin (a GET): versions up to `version` need no notification. */
  saw(version: number): void {
    if (this.seen === undefined || version > this.seen) this.seen = version;
  }

  private async check(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.checkAgain = false;
        if (this.stopped || this.seen === undefined) return;
        const change = await this.twins.desiredSince(this.deviceId, this.seen);
        if (!change || this.stopped) continue;
        this.seen = change.version;
        this.send(change);
      } while (this.checkAgain);
    } catch (err) {
      this.logger.error({ err }, 'could not send a desired-properties notification');
    } finally {
      this.checking = false;
    }
  }
}
