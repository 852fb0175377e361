/** The one C2D topic of a device, and the property bag the official clients decode from it. */
import { type Delivery, FerryError, type PropertyBag } from '@ferry/common';

/** The only topic filter a device may subscribe to (official-sdk-wire.md A, "C2D subscription"). */
export function c2dTopicFilter(deviceId: string): string {
  return `devices/${deviceId}/messages/devicebound/#`;
}

/** MQTT topic names are length-prefixed with 16 bits (MQTT-1.5.3). */
const MAX_TOPIC_BYTES = 65535;

/**
 * The bag as pairs, what C2dTopicWriter writes (for readers and tests): system properties first
 * (`$.` keys), then `iothub-ack`, then the application properties. Only what the sender set
 * appears (no default ack or expiry); `$.to` is the hub's own, as IoT Hub writes it.
 */
export function c2dPropertyBag(deviceId: string, d: Delivery): PropertyBag {
  const bag: Array<readonly [string, string | null]> = [];
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined) bag.push([key, value]);
  };
  add('$.mid', d.messageId);
  add('$.to', `/devices/${deviceId}/messages/devicebound`);
  add('$.exp', d.defaultExpiry ? undefined : new Date(d.expiryTimeUtc).toISOString());
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
  const topic = new C2dTopicWriter(deviceId).topic(d);
  checkTopicLength(Buffer.byteLength(topic));
  return topic;
}

function checkTopicLength(bytes: number): void {
  if (bytes > MAX_TOPIC_BYTES) {
    throw new FerryError(
      'ArgumentInvalid',
      `The properties of the message make its MQTT topic longer than ${MAX_TOPIC_BYTES} bytes`,
    );
  }
}

function component(what: string, s: string): string {
  try {
    return encodeURIComponent(s);
  } catch (cause) {
    // Only a lone UTF-16 surrogate can get here.
    throw new FerryError(
      'ArgumentInvalid',
      `Property ${what} is not valid Unicode: ${JSON.stringify(s.slice(0, 40))}`,
      {
        cause,
      },
    );
  }
}

/**
 * The C2D topics of one device, written straight into one string: what
 * `encodePropertyBag(c2dPropertyBag(...))` gives, without the pairs array in between, and with
 * the parts that never change for the device (`devices/{id}/...` and `$.to`) encoded once.
 */
export class C2dTopicWriter {
  private readonly prefix: string;
  private readonly to: string;

  constructor(deviceId: string) {
    this.prefix = `devices/${deviceId}/messages/devicebound/`;
    this.to = `%24.to=${component('"$.to" value', `/devices/${deviceId}/messages/devicebound`)}`;
  }

  topic(d: Delivery): string {
    let t = this.prefix;
    if (d.messageId !== undefined) t += `%24.mid=${component('"$.mid" value', d.messageId)}&`;
    t += this.to;
    if (!d.defaultExpiry) t += `&%24.exp=${encodeURIComponent(new Date(d.expiryTimeUtc).toISOString())}`;
    if (d.correlationId !== undefined) t += `&%24.cid=${component('"$.cid" value', d.correlationId)}`;
    if (d.userId !== undefined) t += `&%24.uid=${component('"$.uid" value', d.userId)}`;
    if (d.contentType !== undefined) t += `&%24.ct=${component('"$.ct" value', d.contentType)}`;
    if (d.contentEncoding !== undefined) t += `&%24.ce=${component('"$.ce" value', d.contentEncoding)}`;
    if (d.ack !== undefined) t += `&iothub-ack=${component('"iothub-ack" value', d.ack)}`;
    for (const name in d.properties) {
      if (name === '') throw new FerryError('ArgumentInvalid', 'Property name is empty');
      t += `&${component('name', name)}=${component(`${JSON.stringify(name)} value`, d.properties[name]!)}`;
    }
    return t;
  }
}

/** MQTT's Remaining Length: 7 bits per byte, at most four bytes (MQTT-2.2.3). */
const MAX_REMAINING_LENGTH = 268_435_455;

/**
 * The whole PUBLISH packet of a C2D delivery in one buffer (what mqtt-packet's generate gives
 * for `{ cmd: 'publish', qos, dup, retain: false, messageId, topic, payload }`). Throws
 * FerryError ArgumentInvalid when the topic is longer than MQTT allows.
 */
export function c2dPublishPacket(topic: string, payload: Buffer, qos: 0 | 1, dup: boolean, packetId: number): Buffer {
  const topicBytes = Buffer.byteLength(topic);
  checkTopicLength(topicBytes);
  const remaining = 2 + topicBytes + (qos === 1 ? 2 : 0) + payload.length;
  if (remaining > MAX_REMAINING_LENGTH) throw new FerryError('ArgumentInvalid', 'The message is too large for MQTT');
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const packet = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  // PUBLISH, DUP only on QoS 1 (MQTT-3.3.1-2), QoS in bits 1-2, never RETAIN.
  packet[0] = 0x30 | (qos === 1 && dup ? 0x08 : 0) | (qos << 1);
  let at = 1;
  for (let n = remaining; ; ) {
    const byte = n % 128;
    n = Math.floor(n / 128);
    packet[at++] = n > 0 ? byte | 0x80 : byte;
    if (n === 0) break;
  }
  packet.writeUInt16BE(topicBytes, at);
  at += 2;
  at += packet.write(topic, at, 'utf8');
  if (qos === 1) {
    packet.writeUInt16BE(packetId, at);
    at += 2;
  }
  payload.copy(packet, at);
  return packet;
}
