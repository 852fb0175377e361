/**
 * Device twins over AMQP, as azure-iot-device-amqp (AmqpTwinClient) and the Azure IoT C SDK speak
 * them: a pair of links on `/devices/{id}/twin` (the device's sender carries requests, its receiver
 * the answers and desired notifications), paired by their `com.microsoft:channel-correlation-id`
 * attach property. Requests carry the `operation` (and `resource`) message annotations:
 *   GET                                           -> status 200, body {desired, reported}
 *   PATCH  /properties/reported                   -> status 204, annotation version = new reported $version
 *   PUT    /notifications/twin/properties/desired -> 200; desired changes are sent from then on
 *   DELETE /notifications/twin/properties/desired -> 200; they stop
 * Answers carry the request's correlation-id and the `status` annotation; a refusal has its
 * status (400 for IoT Hub's rules) and a body {"errorCode", "message"}, and the links stay.
 * A desired notification has no correlation-id, the patch as body and the `version` annotation.
 */
import { FerryError } from '@ferry/common';
import type { Logger } from 'pino';
import rhea, { type AmqpError, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import type { Operation } from '../../auth/types.js';
import type { DesiredChange, Twins } from '../../twins/index.js';
import { DesiredNotifier } from '../twin-desired.js';
import { twinError } from '../twin-errors.js';
import type { LinkHandler } from './link-handler.js';
import { bodyBytes } from './message-codec.js';

const CHANNEL_PROPERTY = 'com.microsoft:channel-correlation-id';
const DESIRED_RESOURCE = '/notifications/twin/properties/desired';
/** Requests one device may have in flight on its twin link. */
const REQUEST_CREDIT = 16;

interface Channel {
  deviceId: string;
  sender: Sender | undefined;
  notifier: DesiredNotifier | undefined;
}

/** The twin channels of one AMQP connection. */
export class TwinChannels {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly twins: Twins,
    private readonly logger: Logger,
  ) {}

  /** The device's sending link: its requests. */
  requests(receiver: Receiver, deviceId: string): LinkHandler {
    const key = channelKey(receiver, deviceId);
    const channel = this.channel(key, deviceId);
    let closed = false;
    receiver.on('message', (ctx: EventContext) => {
      if (closed || !ctx.message) return;
      const delivery = ctx.delivery;
      if (delivery && !delivery.remote_settled) delivery.accept();
      void this.answer(channel, ctx.message).finally(() => {
        if (!closed) receiver.add_credit(1);
      });
    });
    receiver.add_credit(REQUEST_CREDIT);
    return {
      requires: deviceConnect(deviceId),
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

  /** The device's receiving link: answers and desired notifications. */
  replies(sender: Sender, deviceId: string): LinkHandler {
    const key = channelKey(sender, deviceId);
    const channel = this.channel(key, deviceId);
    channel.sender = sender;
    const gone = () => {
      channel.notifier?.stop();
      channel.notifier = undefined;
      if (channel.sender === sender) channel.sender = undefined;
      this.channels.delete(key);
    };
    return {
      requires: deviceConnect(deviceId),
      detached: async () => gone(),
      close: async (error: AmqpError) => {
        gone();
        sender.close(error);
      },
    };
  }

  /** Everything of this connection stops (it is gone). */
  stop(): void {
    for (const c of this.channels.values()) c.notifier?.stop();
    this.channels.clear();
  }

  private channel(key: string, deviceId: string): Channel {
    let c = this.channels.get(key);
    if (!c) {
      c = { deviceId, sender: undefined, notifier: undefined };
      this.channels.set(key, c);
    }
    return c;
  }

  private async answer(channel: Channel, request: Message): Promise<void> {
    const annotations = (request.message_annotations ?? {}) as Record<string, unknown>;
    const operation = String(annotations.operation ?? '').toUpperCase();
    const resource = typeof annotations.resource === 'string' ? annotations.resource : undefined;
    const correlationId = request.correlation_id;
    const { deviceId } = channel;
    try {
      if (operation === 'GET') {
        const twin = await this.twins.getForDevice(deviceId);
        if (typeof twin.desired.$version === 'number') channel.notifier?.saw(twin.desired.$version);
        this.reply(channel, correlationId, 200, {}, twin);
      } else if (operation === 'PATCH' && resource === '/properties/reported') {
        const body = parseJson(bodyBytes(request.body));
        const version = await this.twins.updateReported(deviceId, body);
        this.reply(channel, correlationId, 204, { version }, undefined);
      } else if (operation === 'PUT' && resource === DESIRED_RESOURCE) {
        channel.notifier ??= new DesiredNotifier(
          this.twins,
          deviceId,
          (change) => this.notify(channel, change),
          this.logger.child({ deviceId }),
        );
        await channel.notifier.start();
        this.reply(channel, correlationId, 200, {}, undefined);
      } else if (operation === 'DELETE' && resource === DESIRED_RESOURCE) {
        channel.notifier?.stop();
        this.reply(channel, correlationId, 200, {}, undefined);
      } else {
        throw new FerryError(
          'ArgumentInvalid',
          `unknown twin operation ${operation.slice(0, 20)} ${String(resource).slice(0, 100)}`,
        );
      }
    } catch (err) {
      const e = twinError(err);
      if (e.httpStatus >= 500) this.logger.error({ err, deviceId }, 'AMQP twin request failed');
      else this.logger.info({ deviceId, code: e.errorName, reason: e.message }, 'AMQP twin request refused');
      this.reply(channel, correlationId, e.httpStatus, {}, { errorCode: e.code, message: e.message });
    }
  }

  private reply(
    channel: Channel,
    correlationId: Message['correlation_id'],
    status: number,
    extra: Record<string, number>,
    body: unknown,
  ): void {
    const sender = channel.sender;
    if (!sender?.is_open()) {
      this.logger.info({ deviceId: channel.deviceId }, 'twin answer dropped: the device has no twin receiver link');
      return;
    }
    sender.send({
      correlation_id: correlationId,
      message_annotations: { status, ...extra },
      // No body at all when there is nothing to say (the SDK parses a body only when it has content).
      body: body === undefined ? undefined : rhea.message.data_section(Buffer.from(JSON.stringify(body), 'utf8')),
    });
  }

  private notify(channel: Channel, change: DesiredChange): void {
    const sender = channel.sender;
    if (!sender?.is_open()) return;
    sender.send({
      message_annotations: { version: change.version },
      body: rhea.message.data_section(Buffer.from(JSON.stringify(change.patch), 'utf8')),
    });
  }
}

function deviceConnect(deviceId: string): Operation {
  return { permission: 'DeviceConnect', deviceId };
}

/** The channel a link belongs to: its correlation property, or the device alone when it has none. */
function channelKey(link: Receiver | Sender, deviceId: string): string {
  const props = link.properties as Record<string, unknown> | undefined;
  const id = props?.[CHANNEL_PROPERTY];
  return `${deviceId}|${typeof id === 'string' ? id : ''}`;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new FerryError('ArgumentInvalid', 'the reported properties are not valid JSON');
  }
}
