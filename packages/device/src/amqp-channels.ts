/**
 * Twins and direct methods over AMQP, as azure-iot-device-amqp opens them and the hub answers
 * (packages/hub/src/gateways/amqp/twin-link.ts and method-link.ts): each a sender and a receiver
 * on one address, paired by the `com.microsoft:channel-correlation-id` attach property.
 *   twin    `/devices/{id}/twin`: requests carry the `operation` (and `resource`) annotations and a
 *           correlation-id; answers carry it back with the `status` (and `version`) annotations;
 *           a message without correlation-id is a desired-properties patch.
 *   methods `/devices/{id}/methods/devicebound`: calls come with the `IoThub-methodname`
 *           application property and the request id as correlation-id; the answer carries it back
 *           with `IoThub-status`.
 */
import { randomUUID } from 'node:crypto';
import { amqpBodyBytes, amqpIdToString, FerryError } from '@ferry/common';
import { type AmqpConnection, SenderOutcomes } from '@ferry/common/client';
import rhea, { type AmqpError, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import { Correlator } from './requests.js';
import type { MethodCall, TransportEvents, TwinOperation, TwinReply } from './transport.js';

const CHANNEL = 'com.microsoft:channel-correlation-id';
const DESIRED_RESOURCE = '/notifications/twin/properties/desired';

/** Told when the hub closes one of a channel's links (with its error, if any). */
export type LinkClosed = (what: string, error: AmqpError | undefined) => void;

/** The sender and receiver of one channel, opened on `connection`. */
async function openPair(
  connection: AmqpConnection,
  address: string,
  kind: string,
  closed: LinkClosed,
): Promise<{ sender: Sender; receiver: Receiver }> {
  const properties = { [CHANNEL]: `${kind}:${randomUUID()}`, 'com.microsoft:api-version': '2021-04-12' };
  const sender = await connection.openSender({ target: { address }, properties });
  sender.on('sender_close', (ctx: EventContext) => closed(kind, ctx.sender?.error as AmqpError | undefined));
  const receiver = await connection.openReceiver({ source: { address }, properties, autoaccept: true });
  receiver.on('receiver_close', (ctx: EventContext) => closed(kind, ctx.receiver?.error as AmqpError | undefined));
  return { sender, receiver };
}

function json(body: unknown): Message['body'] {
  return rhea.message.data_section(Buffer.from(JSON.stringify(body), 'utf8'));
}

const OPERATIONS: Readonly<Record<TwinOperation, Record<string, string>>> = {
  get: { operation: 'GET' },
  'patch-reported': { operation: 'PATCH', resource: '/properties/reported' },
};

export class AmqpTwinChannel {
  private readonly replies = new Correlator<TwinReply>();

  private constructor(private readonly outcomes: SenderOutcomes) {}

  /** Opens the links and asks for desired-property notifications. */
  static async open(
    connection: AmqpConnection,
    deviceId: string,
    events: TransportEvents,
    closed: LinkClosed,
  ): Promise<AmqpTwinChannel> {
    const { sender, receiver } = await openPair(connection, `/devices/${deviceId}/twin`, 'twin', closed);
    const channel = new AmqpTwinChannel(new SenderOutcomes(sender));
    receiver.on('message', (ctx: EventContext) => channel.received(ctx.message!, events));
    connection.onClosed((err) => channel.replies.failAll(err));
    receiver.on('receiver_close', () =>
      channel.replies.failAll(new FerryError('ServiceUnavailable', 'The hub closed the twin link')),
    );
    const reply = await channel.request({ operation: 'PUT', resource: DESIRED_RESOURCE }, undefined);
    if (reply.status >= 300)
      throw new FerryError('ServerError', `The hub refused desired notifications (${reply.status})`);
    return channel;
  }

  private received(message: Message, events: TransportEvents): void {
    const ann = (message.message_annotations ?? {}) as Record<string, unknown>;
    const version = typeof ann.version === 'number' ? ann.version : undefined;
    const body = amqpBodyBytes(message.body);
    const id = amqpIdToString(message.correlation_id);
    if (id === undefined) events.desired(body, version);
    else this.replies.answer(id, { status: Number(ann.status), version, body });
  }

  request(annotations: Record<string, string>, body: Buffer | undefined): Promise<TwinReply> {
    const id = randomUUID();
    const answer = this.replies.wait(id);
    const message = {
      correlation_id: id,
      message_annotations: annotations,
      ...(body !== undefined ? { body: rhea.message.data_section(body) } : {}),
    } as Message;
    // The hub accepts every request and answers on the receiver; a refusal of the transfer is the link's failure.
    this.outcomes.send(message).catch((err: FerryError) => this.replies.failAll(err));
    return answer;
  }

  twinRequest(operation: TwinOperation, body: Buffer | undefined): Promise<TwinReply> {
    return this.request(OPERATIONS[operation], body);
  }
}

export class AmqpMethodChannel {
  private constructor(private readonly answers: SenderOutcomes) {}

  static async open(
    connection: AmqpConnection,
    deviceId: string,
    events: TransportEvents,
    closed: LinkClosed,
  ): Promise<AmqpMethodChannel> {
    const address = `/devices/${deviceId}/methods/devicebound`;
    const { sender, receiver } = await openPair(connection, address, 'methods', closed);
    receiver.on('message', (ctx: EventContext) => {
      const message = ctx.message!;
      const props = (message.application_properties ?? {}) as Record<string, unknown>;
      const rid = amqpIdToString(message.correlation_id);
      const methodName = props['IoThub-methodname'];
      if (rid === undefined || typeof methodName !== 'string') return;
      const call: MethodCall = { methodName, rid, payload: amqpBodyBytes(message.body) };
      events.method(call);
    });
    return new AmqpMethodChannel(new SenderOutcomes(sender));
  }

  answer(rid: string, status: number, payload: Buffer): Promise<void> {
    return this.answers.send({
      correlation_id: rid,
      application_properties: { 'IoThub-status': status },
      body: payload.length > 0 ? rhea.message.data_section(payload) : json(null),
    });
  }
}
