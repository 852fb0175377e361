/**
 * The hub's C2D writers and the shared wire model in @ferry/common (what the SDKs and the CLI
 * read) agree: a delivery written by each gateway reads back with every field intact, and a
 * service message written by the shared AMQP mapping is what the hub's decoder takes in.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  amqpFromMessage,
  type Delivery,
  headerReader,
  type OutgoingMessage,
  receivedFromAmqp,
  receivedFromHeaders,
  receivedFromMqttTopic,
} from '@ferry/common';
import rhea, { type Message } from 'rhea';
import { decodeServiceMessage, encodeDelivery } from '../src/gateways/amqp/message-codec.js';
import { deliveryHeaders } from '../src/gateways/http/device-routes.js';
import { c2dTopic } from '../src/gateways/mqtt/topic.js';

const EXPIRY = Date.UTC(2030, 0, 1);
const FIELDS = {
  messageId: 'mid 1/&=+',
  correlationId: 'corr=1&x',
  userId: 'user one',
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  ack: 'full' as const,
  expiryTimeUtc: EXPIRY,
  properties: { 'my prop': 'a b&c=d/e', zone: 'Zürich ✓' },
};
const DELIVERY: Delivery = {
  ...FIELDS,
  deviceId: 'dev1',
  sequenceNumber: 7,
  enqueuedTimeUtc: EXPIRY - 60_000,
  deliveryCount: 2,
  body: Buffer.from('hi'),
  lockToken: '6f1c2d3e-4f5a-4b7c-8d9e-0f1a2b3c4d5e',
  lockedUntil: EXPIRY - 1000,
  redelivered: false,
};

describe('hub writers, shared readers', () => {
  test('MQTT topic', () => {
    const m = receivedFromMqttTopic(c2dTopic('dev1', DELIVERY));
    assert.deepEqual({ ...m, to: undefined }, { ...FIELDS, to: undefined });
  });

  test('AMQP delivery (through rhea encode and decode)', () => {
    const encoded = rhea.message.encode(encodeDelivery(DELIVERY));
    const m = receivedFromAmqp(rhea.message.decode(encoded) as never);
    assert.deepEqual(
      { ...m, to: undefined },
      { ...FIELDS, enqueuedTimeUtc: EXPIRY - 60_000, sequenceNumber: 7, deliveryCount: 2, to: undefined },
    );
  });

  test('HTTP device receive headers', () => {
    const h = Object.fromEntries(
      Object.entries(deliveryHeaders(DELIVERY)).map(([k, v]) => [k.toLowerCase(), String(v)]),
    );
    const m = receivedFromHeaders(Object.keys(h), headerReader(h));
    assert.deepEqual(
      { ...m, to: undefined },
      {
        ...FIELDS,
        lockToken: DELIVERY.lockToken,
        enqueuedTimeUtc: EXPIRY - 60_000,
        sequenceNumber: 7,
        deliveryCount: 2,
        to: undefined,
      },
    );
  });

  test('a service message from the shared AMQP mapping is what the hub decodes', () => {
    const sent: Omit<OutgoingMessage, 'body'> = FIELDS;
    const msg = { ...amqpFromMessage('dev 1/x', sent), body: rhea.message.data_section(Buffer.from('hi')) } as Message;
    const { deviceId, message } = decodeServiceMessage(
      rhea.message.decode(rhea.message.encode(msg)) as unknown as Message,
    );
    assert.equal(deviceId, 'dev 1/x');
    assert.deepEqual(message, { ...FIELDS, body: Buffer.from('hi') });
  });
});
