/**
 * Direct methods over AMQP, as azure-iot-device-amqp (AmqpDeviceMethodClient) speaks them: a pair
 * of links on `/devices/{id}/methods/devicebound`. The hub sends requests on the device's
 * receiving link (application property `IoThub-methodname`, correlation-id = the request id, the
 * payload as a data section); the device answers on its sending link with the same correlation-id,
 * the `IoThub-status` application property and the JSON payload. An answer the hub cannot match
 * (twice, late, never sent) or without a whole-number status is accepted on the link, logged and
 * otherwise ignored: the links stay.
 */
import type { Logger } from 'pino';
import rhea, { type AmqpError, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import type { MethodRequest, Methods } from '../../methods/index.js';
import type { LinkHandler } from './link-handler.js';
import { bodyBytes } from './message-codec.js';

const METHOD_NAME = 'IoThub-methodname';
const STATUS = 'IoThub-status';
/** Answers one device may have in flight on its methods link. */
const ANSWER_CREDIT = 16;

/** The methods links of one AMQP connection. */
export class MethodChannels {
  constructor(
    private readonly methods: Methods,
    private readonly logger: Logger,
  ) {}

  /** The device's receiving link: the hub's requests go out on it, and it takes the device's calls from now on. */
  requests(sender: Sender, deviceId: string): LinkHandler {
    const deliver = (request: MethodRequest) => {
      if (!sender.is_open()) throw new Error('the methods link is closed');
      sender.send({
        correlation_id: request.rid,
        application_properties: { [METHOD_NAME]: request.methodName },
        body: rhea.message.data_section(Buffer.from(request.payloadJson, 'utf8')),
      });
    };
    const detach = this.methods.attach(deviceId, { deliver });
    return {
      requires: { permission: 'DeviceConnect', deviceId },
      detached: async () => detach(),
      close: async (error: AmqpError) => {
        detach();
        sender.close(error);
      },
    };
  }

  /** The device's sending link: its answers. */
  answers(receiver: Receiver, deviceId: string): LinkHandler {
    let closed = false;
    receiver.on('message', (ctx: EventContext) => {
      if (closed || !ctx.message) return;
      const delivery = ctx.delivery;
      if (delivery && !delivery.remote_settled) delivery.accept();
      this.answer(deviceId, ctx.message);
      receiver.add_credit(1);
    });
    receiver.add_credit(ANSWER_CREDIT);
    return {
      requires: { permission: 'DeviceConnect', deviceId },
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

  private answer(deviceId: string, message: Message): void {
    const props = (message.application_properties ?? {}) as Record<string, unknown>;
    const status = Number(props[STATUS]);
    const cid = message.correlation_id;
    const rid = Buffer.isBuffer(cid) && cid.length === 16 ? rhea.uuid_to_string(cid) : String(cid ?? '');
    if (!Number.isInteger(status) || rid === '') {
      this.logger.info({ deviceId }, 'method answer ignored: no IoThub-status whole number or no correlation-id');
      return;
    }
    const outcome = this.methods.answer(deviceId, rid, status, bodyBytes(message.body));
    if (outcome === 'unknown-rid')
      this.logger.info(
        { deviceId, rid: rid.slice(0, 64) },
        'method answer ignored: no call waits under this correlation-id (answered twice, late, or never sent)',
      );
    else if (outcome === 'not-json')
      this.logger.info({ deviceId, rid: rid.slice(0, 64) }, 'method answer is not JSON: the call fails for its caller');
  }
}
