/**
 * The Event Hubs `$management` node: READ of the event hub (name, created_at, partition_count,
 * partition_ids) and of one partition (begin_sequence_number, last_enqueued_sequence_number,
 * last_enqueued_offset, last_enqueued_time_utc, is_partition_empty), as @azure/event-hubs asks.
 * Requests come on the peer's sender link; replies go on its receiver link from `$management`,
 * `to` = the request's reply_to, `correlation_id` = its message_id. Each request is authorized for
 * the event hub it names (ServiceConnect on `/{hub}/$management`, the audience the client signs).
 */
import type { Logger } from 'pino';
import rhea, { type AmqpError, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import type { Telemetry } from '../../../telemetry/telemetry.js';
import type { Claims } from '../claims.js';
import type { LinkHandler } from '../link-handler.js';

const CREDIT = 16;

interface Reply {
  status: number;
  description: string;
  body?: unknown;
}

export class EventHubsManagement {
  private readonly replyLinks = new Set<Sender>();

  constructor(
    private readonly telemetry: Telemetry,
    private readonly hubName: string,
    private readonly claims: Claims,
    private readonly logger: Logger,
  ) {}

  requests(receiver: Receiver): LinkHandler {
    let closed = false;
    receiver.add_credit(CREDIT);
    receiver.on('message', (ctx: EventContext) => {
      if (closed) return;
      ctx.delivery?.accept();
      const request = ctx.message;
      if (!request) return;
      void this.answer(request).then((reply) => {
        this.reply(request, reply);
        if (!closed) receiver.add_credit(1);
      });
    });
    return {
      requires: undefined,
      detached: async () => {
        closed = true;
      },
      close: async (error: AmqpError) => {
        if (closed) return;
        closed = true;
        receiver.close(error);
      },
    };
  }

  replies(sender: Sender): LinkHandler {
    this.replyLinks.add(sender);
    const done = async () => void this.replyLinks.delete(sender);
    return {
      requires: undefined,
      detached: done,
      close: async (error: AmqpError) => {
        await done();
        sender.close(error);
      },
    };
  }

  private async answer(msg: Message): Promise<Reply> {
    const props: Record<string, unknown> = msg.application_properties ?? {};
    const name = typeof props.name === 'string' ? props.name : '';
    if (props.operation !== 'READ')
      return { status: 400, description: `Unsupported operation "${String(props.operation)}"` };
    if (name.toLowerCase() !== this.hubName.toLowerCase()) {
      return {
        status: 404,
        description: `No event hub named "${name.slice(0, 100)}" here; this one is ${this.hubName}`,
      };
    }
    if (!this.claims.can({ permission: 'ServiceConnect', path: `/${name}/$management` })) {
      return { status: 401, description: 'No valid token with ServiceConnect for this event hub on this connection' };
    }
    try {
      if (props.type === 'com.microsoft:eventhub') {
        const ids = Array.from({ length: this.telemetry.partitions }, (_, i) => String(i));
        return {
          status: 200,
          description: 'OK',
          body: {
            name: this.hubName,
            type: 'com.microsoft:eventhub',
            created_at: new Date(this.telemetry.createdAt),
            partition_count: rhea.types.wrap_int(ids.length),
            partition_ids: ids,
          },
        };
      }
      if (props.type === 'com.microsoft:partition') {
        const partition = Number(props.partition);
        const info = await this.telemetry.partitionInfo(partition);
        return {
          status: 200,
          description: 'OK',
          body: {
            name: this.hubName,
            type: 'com.microsoft:partition',
            partition: String(partition),
            begin_sequence_number: rhea.types.wrap_long(info.beginSequenceNumber),
            last_enqueued_sequence_number: rhea.types.wrap_long(info.lastSequenceNumber),
            last_enqueued_offset: String(info.lastOffset),
            last_enqueued_time_utc: new Date(info.lastEnqueuedTime),
            is_partition_empty: info.empty,
          },
        };
      }
      return { status: 400, description: `Unsupported type "${String(props.type)}"` };
    } catch (err) {
      const description = err instanceof Error ? err.message : 'Error';
      this.logger.debug({ err }, '$management request refused');
      return { status: 404, description };
    }
  }

  private reply(request: Message, reply: Reply): void {
    const link = [...this.replyLinks].find((l) => l.is_open());
    if (!link) return;
    const msg: Message = {
      body: reply.body ?? null,
      application_properties: {
        'status-code': rhea.types.wrap_int(reply.status),
        'status-description': reply.description,
      },
    };
    const id: unknown = request.message_id;
    if (typeof id === 'string' || typeof id === 'number' || Buffer.isBuffer(id)) msg.correlation_id = id;
    if (typeof request.reply_to === 'string') msg.to = request.reply_to;
    link.send(msg);
  }
}
