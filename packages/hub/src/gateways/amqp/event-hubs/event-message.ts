/** A stored event -> the AMQP message an Event Hubs receiver gets (the `x-opt-*` annotations, IoT Hub's properties). */
import rhea, { type Message } from 'rhea';
import type { StoredEvent } from '../../../store/event-log.js';

export function eventMessage(e: StoredEvent): Message {
  const annotations: Record<string, unknown> = {
    'x-opt-sequence-number': rhea.types.wrap_long(e.sequenceNumber),
    'x-opt-offset': String(e.offset),
    'x-opt-enqueued-time': new Date(e.enqueuedTime),
    'iothub-enqueuedtime': new Date(e.enqueuedTime),
  };
  for (const [k, v] of Object.entries(e.annotations)) annotations[k] = v;
  const msg: Message = {
    body: rhea.message.data_section(e.body),
    message_annotations: annotations,
    application_properties: { ...e.properties },
  };
  const s = e.system;
  if (s['message-id'] !== undefined) msg.message_id = s['message-id'];
  if (s['correlation-id'] !== undefined) msg.correlation_id = s['correlation-id'];
  if (s['user-id'] !== undefined) msg.user_id = Buffer.from(s['user-id'], 'utf8') as unknown as string;
  if (s['content-type'] !== undefined) msg.content_type = s['content-type'];
  if (s['content-encoding'] !== undefined) msg.content_encoding = s['content-encoding'];
  if (s['absolute-expiry-time'] !== undefined) msg.absolute_expiry_time = new Date(s['absolute-expiry-time']);
  return msg;
}
