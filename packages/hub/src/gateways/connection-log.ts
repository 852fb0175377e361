/**
 * A connection's log lines: the gateway's logger, with the connection's fields (gateway, remote
 * address, transport, then the device) put first in each line, as a pino child would print them.
 * Not a child: a device connection may stay idle for days, and a pino child per connection (its
 * own object, level methods and serialized bindings) was a large part of what an idle connection
 * held. A line at a disabled level costs nothing; an enabled one merges the fields.
 */
import type { Logger } from 'pino';

/** The part of a logger the connections use; a pino Logger is one. */
export interface LineLogger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

type Level = keyof LineLogger;

export class ConnectionLog implements LineLogger {
  /** The device, once known. */
  deviceId: string | undefined;

  constructor(
    private readonly base: Logger,
    private readonly gateway: string,
    private readonly remoteAddress: string | undefined,
    private readonly transport: string,
  ) {}

  debug(fields: object, msg: string): void {
    this.line('debug', fields, msg);
  }

  info(fields: object, msg: string): void {
    this.line('info', fields, msg);
  }

  warn(fields: object, msg: string): void {
    this.line('warn', fields, msg);
  }

  error(fields: object, msg: string): void {
    this.line('error', fields, msg);
  }

  private line(level: Level, fields: object, msg: string): void {
    if (!this.base.isLevelEnabled(level)) return;
    const { gateway, remoteAddress, transport, deviceId } = this;
    const head =
      deviceId === undefined ? { gateway, remoteAddress, transport } : { gateway, remoteAddress, transport, deviceId };
    this.base[level]({ ...head, ...fields }, msg);
  }
}
