/**
 * The Event Hubs-compatible surface of one AMQP connection (DESIGN.md "Growing past C2D"): the
 * `$management` node and partition readers over the telemetry domain. The connection authorizes
 * each link first (addresses.ts linkRequirement), then hands it here.
 */
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import type { AmqpError, Receiver, Sender } from 'rhea';
import type { Telemetry } from '../../../telemetry/telemetry.js';
import type { LinkAddress } from '../addresses.js';
import type { Claims } from '../claims.js';
import { amqpError, NOT_IMPLEMENTED, toAmqpError } from '../errors.js';
import type { LinkHandler } from '../link-handler.js';
import { holdAttach } from '../rhea-internals.js';
import { EventHubsManagement } from './management.js';
import { PartitionReader } from './partition-reader.js';
import { parseSelector, selectorText } from './selector.js';

type PartitionAddress = Extract<LinkAddress, { kind: 'eh-partition' }>;
type RedirectAddress = Extract<LinkAddress, { kind: 'iothub-events' }>;

export interface EventHubsDeps {
  telemetry: Telemetry | undefined;
  hubName: string;
  /** The hub's host names and AMQPS port, which a redirect names. */
  hosts: readonly string[];
  port: number;
  claims: Claims;
  logger: Logger;
  accept(link: Sender | Receiver, handler: LinkHandler): void;
  refuse(link: Sender | Receiver, error: AmqpError): void;
}

const NOT_SERVED: AmqpError = { condition: NOT_IMPLEMENTED, description: 'This hub serves no built-in endpoint' };

export class EventHubsLinks {
  private management: EventHubsManagement | undefined;

  constructor(private readonly deps: EventHubsDeps) {}

  private node(): EventHubsManagement | undefined {
    const { telemetry, hubName, claims, logger } = this.deps;
    if (!telemetry) return undefined;
    this.management ??= new EventHubsManagement(telemetry, hubName, claims, logger);
    return this.management;
  }

  /** The peer's sender (requests) or receiver (replies) link on `$management`. */
  openManagement(link: Sender | Receiver): void {
    const node = this.node();
    if (!node) {
      this.deps.refuse(link, NOT_SERVED);
      return;
    }
    this.deps.accept(link, link.is_sender() ? node.replies(link as Sender) : node.requests(link as Receiver));
  }

  /**
   * IoT Hub's own names for the built-in endpoint (`messages/events/$management`,
   * `messages/events/ConsumerGroups/...`): refused with amqp:link:redirect to the Event Hubs-compatible
   * address, as IoT Hub answers; @azure/event-hubs' createFromIotHubConnectionString follows it.
   */
  redirect(link: Sender | Receiver, address: RedirectAddress): void {
    const { hubName, hosts, port } = this.deps;
    // The host the client opened the connection for, when it is one of ours.
    const asked = link.connection.hostname?.toLowerCase();
    const host = hosts.find((h) => h.toLowerCase() === asked) ?? hosts[0] ?? hubName;
    const target = `amqps://${host}:${port}/${hubName}${address.rest}`;
    this.deps.refuse(link, {
      condition: 'amqp:link:redirect',
      description: `The built-in endpoint is served at ${target}`,
      info: { hostname: host, 'network-host': host, port, address: target },
    } as AmqpError);
  }

  /** A receiver on `{hub}/ConsumerGroups/{group}/Partitions/{n}`: checked (asynchronously, the attach held), then served. */
  openPartition(sender: Sender, address: PartitionAddress): void {
    const { telemetry, hubName, logger } = this.deps;
    if (!telemetry) {
      this.deps.refuse(sender, NOT_SERVED);
      return;
    }
    const release = holdAttach(sender);
    const finish = (fn: () => void) => {
      if (!sender.is_remote_open()) return;
      release();
      fn();
    };
    void (async () => {
      if (address.entity.toLowerCase() !== hubName.toLowerCase()) {
        throw new FerryError(
          'NotFound',
          `No event hub named "${address.entity.slice(0, 100)}"; this one is ${hubName}`,
        );
      }
      const partition = /^\d+$/.test(address.partition) ? Number(address.partition) : -1;
      telemetry.checkPartition(partition);
      if (!(await telemetry.consumerGroup(address.group))) {
        throw new FerryError('NotFound', `No consumer group "${address.group.slice(0, 100)}" on ${hubName}`);
      }
      const seek = parseSelector(selectorText(sender.source?.filter));
      const first = await telemetry.seek(partition, seek);
      return { partition, first };
    })().then(
      ({ partition, first }) =>
        finish(() => {
          const requires = {
            permission: 'ServiceConnect',
            path: `/${address.entity}/ConsumerGroups/${address.group}/Partitions/${address.partition}`,
          } as const;
          const reader = new PartitionReader(sender, partition, requires, telemetry, logger);
          this.deps.accept(sender, reader);
          reader.start(first);
        }),
      (err: unknown) =>
        finish(() => {
          const error = toAmqpError(err);
          this.deps.refuse(sender, error.condition === 'amqp:internal-error' ? amqpError('ServerError') : error);
        }),
    );
  }
}
