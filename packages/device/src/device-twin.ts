/**
 * The device's side of its twin: read it, report properties, follow desired changes. Desired
 * patches reach the handler one at a time, in version order; a patch at or below a version
 * already handed over is dropped. When the handler is set, and after every reconnect, the whole
 * desired document is handed over (`full: true`) so the device converges on what it missed.
 */
import { FerryError } from '@ferry/common';
import { errorFromStatusBody } from '@ferry/common/client';
import type { TwinOperation, TwinReply } from './transport.js';

/** A JSON object inside a twin. */
export type TwinProperties = { [name: string]: unknown };

/** The device's view of its twin: desired and reported properties, each with `$version` (and `$metadata`). */
export interface DeviceTwin {
  desired: TwinProperties & { $version: number };
  reported: TwinProperties & { $version: number };
}

export interface DesiredUpdate {
  /** The desired `$version` this brings the device to. */
  version: number;
  /** `full`: the whole desired document (replace); else a patch to merge (null deletes a property). */
  properties: TwinProperties;
  full: boolean;
}

export type DesiredHandler = (update: DesiredUpdate) => Promise<void> | void;

/** What twins need of the client: a connection with the twin feature on, and its requests. */
export interface TwinLink {
  /** Connects when needed and turns twins on (for good: again after every reconnect). */
  enableTwin(): Promise<void>;
  /** One request, on a connection with twins on (connecting and turning them on when needed). */
  request(operation: TwinOperation, body: Buffer | undefined): Promise<TwinReply>;
}

function parseObject(body: Buffer, what: string): TwinProperties {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw new FerryError('ServerError', `The hub sent ${what} that is not JSON`, { cause });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new FerryError('ServerError', `The hub sent ${what} that is not a JSON object`);
  }
  return v as TwinProperties;
}

function versionOf(props: TwinProperties): number {
  return typeof props.$version === 'number' ? props.$version : 0;
}

export class TwinFollower {
  private handler: DesiredHandler | undefined;
  private seen = 0;
  /** Patches that came while the whole document is being read (converge()). */
  private held: DesiredUpdate[] | undefined;
  /** Handler calls run one after another on this chain. */
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly link: TwinLink) {}

  private async call(operation: TwinOperation, body?: Buffer): Promise<TwinReply> {
    const reply = await this.link.request(operation, body);
    if (reply.status >= 300) throw errorFromStatusBody(reply.status, reply.body);
    return reply;
  }

  async get(): Promise<DeviceTwin> {
    const twin = parseObject((await this.call('get')).body, 'a twin') as Partial<DeviceTwin>;
    const desired = (twin.desired ?? {}) as TwinProperties;
    const reported = (twin.reported ?? {}) as TwinProperties;
    return {
      desired: { ...desired, $version: versionOf(desired) },
      reported: { ...reported, $version: versionOf(reported) },
    };
  }

  /** Merges `patch` into the reported properties; resolves with their new `$version`. */
  async updateReported(patch: TwinProperties): Promise<number> {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw new FerryError('ArgumentInvalid', 'updateReportedProperties() takes a JSON object');
    }
    const reply = await this.call('patch-reported', Buffer.from(JSON.stringify(patch), 'utf8'));
    return reply.version ?? 0;
  }

  async follow(handler: DesiredHandler | null): Promise<void> {
    this.handler = handler ?? undefined;
    if (!handler) return;
    await this.link.enableTwin();
    await this.converge();
  }

  /**
   * The whole desired document to the handler (at start and after a reconnect). Patches that
   * come while it is on its way wait, so the handler always gets the document before them.
   */
  async converge(): Promise<void> {
    if (!this.handler) return;
    const held: DesiredUpdate[] = [];
    this.held = held;
    try {
      const { desired } = await this.get();
      this.deliver({ version: desired.$version, properties: desired, full: true });
    } finally {
      if (this.held === held) this.held = undefined;
      for (const patch of held) this.deliver(patch);
    }
  }

  /** A desired patch from the hub. */
  patched(body: Buffer, version: number | undefined): void {
    if (!this.handler) return;
    let properties: TwinProperties;
    try {
      properties = parseObject(body, 'a desired patch');
    } catch {
      return; // a reconnect's full document repairs what a garbled patch missed
    }
    const update = { version: version ?? versionOf(properties), properties, full: false };
    if (this.held) this.held.push(update);
    else this.deliver(update);
  }

  private deliver(update: DesiredUpdate): void {
    this.chain = this.chain.then(async () => {
      const handler = this.handler;
      // Already handed over (a patch racing the full document): dropped. A full one may repeat.
      if (!handler || update.version < this.seen || (!update.full && update.version === this.seen)) return;
      this.seen = update.version;
      try {
        await handler(update);
      } catch {
        // The app's failure is the app's; the next update still comes.
      }
    });
  }
}
