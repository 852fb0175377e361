/** The one C2D topic of a device, and the property bag the official clients decode from it. */
import { type Delivery, encodePropertyBag, FerryError, type PropertyBag } from '@ferry/common';

/** The only topic filter a device may subscribe to (official-sdk-wire.md A, "C2D subscription"). */
export function c2dTopicFilter(deviceId: string): string {
  return `devices/${deviceId}/messages/devicebound/#`;
}

/** MQTT topic names are length-prefixed with 16 bits (MQTT-1.5.3). */
const MAX_TOPIC_BYTES = 65535;

/** The bag: system properties first (`$.` keys), then `iothub-ack`, then the application properties. */
export function c2dPropertyBag(deviceId: string, d: Delivery): PropertyBag {
  const bag: Array<readonly [string, string | null]> = [];
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined) bag.push([key, value]);
  };
  add('$.mid', d.messageId);
  add('$.to', `/devices/${deviceId}/messages/devicebound`);
  add('$.exp', new Date(d.expiryTimeUtc).toISOString());
  add('$.cid', d.correlationId);
  add('$.uid', d.userId);
  add('$.ct', d.contentType);
  add('$.ce', d.contentEncoding);
  add('iothub-ack', d.ack);
  for (const [name, value] of Object.entries(d.properties)) bag.push([name, value]);
  return bag;
}

/**
 * `devices/{id}/messages/devicebound/{bag}`. The `/` before the bag stays even when the bag is
 * empty: the official client drops a C2D publish without it. Throws FerryError ArgumentInvalid
 * when the message cannot be expressed as a topic (bad Unicode, or longer than MQTT allows).
 */
export function c2dTopic(deviceId: string, d: Delivery): string {
  const topic = `devices/${deviceId}/messages/devicebound/${encodePropertyBag(c2dPropertyBag(deviceId, d))}`;
  if (Buffer.byteLength(topic) > MAX_TOPIC_BYTES) {
    throw new FerryError(
      'ArgumentInvalid',
      `The properties of the message make its MQTT topic longer than ${MAX_TOPIC_BYTES} bytes`,
    );
  }
  return topic;
}
