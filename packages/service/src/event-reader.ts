/**
 * Device-to-cloud telemetry read from the hub's built-in Event Hubs-compatible endpoint, over the
 * service's AMQP connection (rhea), as @azure/event-hubs reads it: `$management` for the
 * partition ids, one receiver per partition on `{hub}/ConsumerGroups/{group}/Partitions/{n}`
 * with an `apache.org:selector-filter:string` start. Credit is given back one per event the
 * application took, so a slow reader holds at most CREDIT events per partition in memory. After a
 * lost connection each partition resumes after the last event it gave.
 */
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { FerryError } from '@ferry/common';
import { type AmqpConnection, errorFromAmqp } from '@ferry/common/client';
import rhea, { type EventContext, type Message, type Receiver } from 'rhea';
import { backOff, type FeedbackSource as EventSource } from './feedback.js';

/** Where reading starts: the oldest event kept, only new events, events enqueued after a time, or after a sequence number. */
export type EventStart = 'earliest' | 'latest' | Date | { sequenceNumber: number; inclusive?: boolean };

export interface ReadEventsOptions {
  /** Default `$Default`. */
  consumerGroup?: string;
  /** Default 'latest' (events enqueued from now on). */
  from?: EventStart;
  /** Partitions to read (default: every partition the hub has). */
  partitions?: readonly number[];
}

/** One telemetry event as the hub stored it. */
export interface TelemetryEvent {
  /** The device that sent it (`iothub-connection-device-id`). */
  deviceId: string;
  body: Buffer;
  /** Application properties, as the device set them. */
  properties: Record<string, unknown>;
  /** The system properties the device set. */
  system: {
    messageId?: string;
    correlationId?: string;
    userId?: string;
    contentType?: string;
    contentEncoding?: string;
    expiryTimeUtc?: Date;
  };
  /** The hub's enrichment (`iothub-connection-auth-method`, `iothub-message-source`...), as annotated. */
  annotations: Record<string, unknown>;
  enqueuedTime: Date;
  partition: number;
  /** From 0 in each partition. */
  sequenceNumber: number;
  offset: string;
}

/** Events each partition's receiver may have delivered and not yet taken by the application. */
const CREDIT = 100;
const SELECTOR = 'apache.org:selector-filter:string';
/** The filter's numeric descriptor (0x0000468C:0x00000004), as @azure/event-hubs writes it. */
const SELECTOR_CODE = 0x468c00000004;
/** How long `$management` may take to answer. */
const MANAGEMENT_TIMEOUT_MS = 60_000;

export function hubNameOf(host: string): string {
  return isIP(host) ? host : host.split('.')[0]!;
}

/** The selector filter text @azure/event-hubs writes for a start position. */
export function selectorFor(from: EventStart): string {
  if (from === 'earliest') return "amqp.annotation.x-opt-offset > '-1'";
  if (from === 'latest') return "amqp.annotation.x-opt-offset > '@latest'";
  if (from instanceof Date) return `amqp.annotation.x-opt-enqueued-time > '${from.getTime()}'`;
  return `amqp.annotation.x-opt-sequence-number ${from.inclusive ? '>=' : '>'} '${from.sequenceNumber}'`;
}

function checkStart(from: unknown): EventStart {
  if (from === 'earliest' || from === 'latest') return from;
  if (from instanceof Date && Number.isFinite(from.getTime())) return from;
  const seq = (from as { sequenceNumber?: unknown } | null)?.sequenceNumber;
  if (typeof seq === 'number' && Number.isInteger(seq) && seq >= -1) return from as EventStart;
  throw new FerryError(
    'ArgumentInvalid',
    `from must be 'earliest', 'latest', a Date or { sequenceNumber }; got ${JSON.stringify(from)}`,
  );
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

export function eventOf(msg: Message, partition: number): TelemetryEvent {
  const a: Record<string, unknown> = { ...(msg.message_annotations ?? {}) };
  const body = Buffer.isBuffer(msg.body)
    ? msg.body
    : Buffer.from(((msg.body as { content?: Buffer } | undefined)?.content ?? []) as Buffer);
  const enqueued = a['x-opt-enqueued-time'];
  const event: TelemetryEvent = {
    deviceId: String(a['iothub-connection-device-id'] ?? ''),
    body,
    properties: { ...(msg.application_properties ?? {}) },
    system: {},
    annotations: {},
    enqueuedTime: enqueued instanceof Date ? enqueued : new Date(Number(enqueued)),
    partition,
    sequenceNumber: Number(a['x-opt-sequence-number']),
    offset: String(a['x-opt-offset'] ?? ''),
  };
  for (const [k, v] of Object.entries(a)) if (!k.startsWith('x-opt-')) event.annotations[k] = v;
  const s = event.system;
  const fields = {
    messageId: text(msg.message_id),
    correlationId: text(msg.correlation_id),
    userId: text(msg.user_id),
    contentType: text(msg.content_type),
    contentEncoding: text(msg.content_encoding),
  };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) s[k as keyof typeof fields] = v;
  if (msg.absolute_expiry_time instanceof Date) s.expiryTimeUtc = msg.absolute_expiry_time;
  return event;
}

/** The partition ids through `$management` (READ of the event hub). */
async function partitionIds(connection: AmqpConnection, hubName: string): Promise<number[]> {
  const replyTo = `ferry-mgmt-${randomUUID()}`;
  const replies = await connection.openReceiver({ source: { address: '$management' }, target: { address: replyTo } });
  const requests = await connection.openSender({ target: { address: '$management' } });
  try {
    const id = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<Message>((resolve, reject) => {
      replies.on('message', (ctx: EventContext) => {
        if (String(ctx.message?.correlation_id) === id) resolve(ctx.message!);
      });
      timer = setTimeout(
        () => reject(new FerryError('ServiceUnavailable', 'The hub did not answer the $management request')),
        MANAGEMENT_TIMEOUT_MS,
      );
    }).finally(() => clearTimeout(timer));
    requests.send({
      message_id: id,
      reply_to: replyTo,
      application_properties: { operation: 'READ', name: hubName, type: 'com.microsoft:eventhub' },
      body: null,
    } as Message);
    const msg = await reply;
    const status = Number(msg.application_properties?.['status-code']);
    const description = String(msg.application_properties?.['status-description'] ?? '');
    if (status === 401) throw new FerryError('IotHubUnauthorizedAccess', description);
    if (status !== 200) throw new FerryError(status === 404 ? 'NotFound' : 'ServerError', description);
    return ((msg.body as { partition_ids?: string[] }).partition_ids ?? []).map(Number);
  } finally {
    requests.close();
    replies.close();
  }
}

/** amqp:not-found on a reader's link names a consumer group or partition, not a device. */
function readerError(err: FerryError): FerryError {
  return err.errorName === 'DeviceNotFound' ? new FerryError('NotFound', err.message, { cause: err }) : err;
}

interface PartitionState {
  partition: number;
  /** Where the next attach starts: the configured start, then after the last event given. */
  from: EventStart;
  receiver?: Receiver;
}

/**
 * Events from every partition (or those chosen), merged in the order they arrive (each
 * partition's in order), until the client closes or the loop breaks. A refusal (an unknown
 * consumer group: NotFound; a policy without ServiceConnect: IotHubUnauthorizedAccess) is thrown;
 * a lost connection is retried as the client's retry policy says.
 */
export async function* readEvents(
  src: EventSource,
  options: ReadEventsOptions = {},
): AsyncGenerator<TelemetryEvent, void, undefined> {
  for (const key of Object.keys(options)) {
    if (!['consumerGroup', 'from', 'partitions'].includes(key))
      throw new FerryError(
        'ArgumentInvalid',
        `Unknown readEvents option "${key}"; known: consumerGroup, from, partitions`,
      );
  }
  const group = options.consumerGroup ?? '$Default';
  const start = checkStart(options.from ?? 'latest');
  const hubName = hubNameOf(src.host);
  const queue: Array<{ event: TelemetryEvent; state: PartitionState }> = [];
  let wake: (() => void) | undefined;
  const signal = () => wake?.();
  const unregister = src.onWake(signal);
  let states: PartitionState[] | undefined = options.partitions?.map((partition) => ({ partition, from: start }));
  let attempt = 0;
  try {
    while (!src.isClosed()) {
      let linkError: FerryError | undefined;
      const connection = await src.connection();
      try {
        states ??= (await partitionIds(connection, hubName)).map((partition) => ({ partition, from: start }));
        for (const state of states) {
          const receiver = await connection.openReceiver({
            source: {
              address: `${hubName}/ConsumerGroups/${group}/Partitions/${state.partition}`,
              filter: { [SELECTOR]: rhea.types.wrap_described(selectorFor(state.from), SELECTOR_CODE) },
            },
            credit_window: 0,
            autoaccept: true,
          });
          receiver.on('message', (ctx: EventContext) => {
            queue.push({ event: eventOf(ctx.message!, state.partition), state });
            signal();
          });
          receiver.on('receiver_close', (ctx: EventContext) => {
            const error = ctx.receiver?.error as { condition?: unknown; description?: unknown } | undefined;
            if (error?.condition) linkError = readerError(errorFromAmqp(error));
            signal();
          });
          receiver.add_credit(CREDIT);
          state.receiver = receiver;
        }
      } catch (err) {
        linkError = readerError(err instanceof FerryError ? err : errorFromAmqp(undefined));
      }
      const open = () => !linkError && connection.isOpen && (states ?? []).every((s) => s.receiver?.is_open());
      while (!src.isClosed() && open()) {
        const next = queue.shift();
        if (next) {
          attempt = 0;
          next.state.from = { sequenceNumber: next.event.sequenceNumber };
          next.state.receiver?.add_credit(1);
          yield next.event;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      for (const s of states ?? []) if (s.receiver?.is_open()) s.receiver.close();
      // Those already here go to the application before anything is read again.
      while (queue.length > 0) {
        const next = queue.shift()!;
        next.state.from = { sequenceNumber: next.event.sequenceNumber };
        yield next.event;
      }
      if (src.isClosed()) break;
      await backOff(src, ++attempt, linkError);
    }
  } finally {
    unregister();
    for (const s of states ?? []) if (s.receiver?.is_open()) s.receiver.close();
  }
}
