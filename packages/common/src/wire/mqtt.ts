/**
 * A C2D message in an MQTT topic, `devices/{id}/messages/devicebound/{bag}` (official-sdk-wire.md
 * A "Incoming C2D dispatch"): system properties under `$.` keys, then `iothub-ack`, then the
 * application properties. Only the fields that are set are written.
 */
import { FerryError } from '../errors.js';
import type { Ack, OutgoingMessage } from '../message.js';
import { decodePropertyBag, encodePropertyBag, type PropertyBag } from '../property-bag.js';
import { ACKS, parseTime, type ReceivedFields, setDefined } from './message-fields.js';

/** The topic filter a device subscribes to. The device id goes in raw. */
export function c2dSubscription(deviceId: string): string {
  return `devices/${deviceId}/messages/devicebound/#`;
}

/** The bag of a message to `deviceId`; expiry as ISO 8601. */
export function mqttBagFromMessage(deviceId: string, m: Omit<OutgoingMessage, 'body'>): PropertyBag {
  return systemBag(m, `/devices/${deviceId}/messages/devicebound`);
}

/** System properties (`$.` keys, `iothub-ack`), then the application properties; only those set. */
function systemBag(m: Omit<OutgoingMessage, 'body'>, to: string | undefined): PropertyBag {
  const bag: Array<readonly [string, string]> = [];
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined) bag.push([key, value]);
  };
  add('$.mid', m.messageId);
  add('$.to', to);
  add('$.exp', m.expiryTimeUtc === undefined ? undefined : new Date(m.expiryTimeUtc).toISOString());
  add('$.cid', m.correlationId);
  add('$.uid', m.userId);
  add('$.ct', m.contentType);
  add('$.ce', m.contentEncoding);
  add('iothub-ack', m.ack);
  for (const [name, value] of Object.entries(m.properties ?? {})) bag.push([name, value]);
  return bag;
}

export function mqttTopicFromMessage(deviceId: string, m: Omit<OutgoingMessage, 'body'>): string {
  return `devices/${deviceId}/messages/devicebound/${encodePropertyBag(mqttBagFromMessage(deviceId, m))}`;
}

/** The topic a device publishes telemetry to: `devices/{id}/messages/events/{bag}` (no `$.to`, no ack). */
export function mqttTelemetryTopic(deviceId: string, m: Omit<OutgoingMessage, 'body' | 'ack'>): string {
  return `devices/${deviceId}/messages/events/${encodePropertyBag(systemBag(m, undefined))}`;
}

const SYSTEM: Record<string, keyof ReceivedFields> = {
  '$.mid': 'messageId',
  '$.to': 'to',
  '$.cid': 'correlationId',
  '$.uid': 'userId',
  '$.ct': 'contentType',
  '$.ce': 'contentEncoding',
};

/** The fields of a C2D PUBLISH. Throws FerryError ArgumentInvalid when the topic is not a C2D topic. */
export function receivedFromMqttTopic(topic: string): ReceivedFields {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'devices' || parts[2] !== 'messages' || parts[3] !== 'devicebound') {
    throw new FerryError('ArgumentInvalid', `Not a C2D topic: ${topic.slice(0, 80)}`);
  }
  const m: ReceivedFields = { properties: {} };
  for (const [key, value] of decodePropertyBag(parts[4]!)) {
    const field = SYSTEM[key];
    if (field) setDefined(m, field, value ?? undefined);
    else if (key === '$.exp') setDefined(m, 'expiryTimeUtc', parseTime(value ?? undefined));
    else if (key === 'iothub-ack' && value !== null && ACKS.has(value)) m.ack = value as Ack;
    else m.properties[key] = value ?? '';
  }
  return m;
}
