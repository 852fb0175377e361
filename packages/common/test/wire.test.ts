/**
 * Golden vectors of the one wire model: a message with every field, and one with none, in HTTP
 * headers, AMQP fields and an MQTT topic, each written and read back. Unset fields are never
 * written (no defaults on the wire).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  amqpBodyBytes,
  amqpFromMessage,
  headerReader,
  messageFromSendHeaders,
  mqttTopicFromMessage,
  type OutgoingMessage,
  receivedFromAmqp,
  receivedFromHeaders,
  receivedFromMqttTopic,
  sendHeaders,
} from '../src/index.js';

const EXPIRY = Date.UTC(2030, 0, 1);
const FULL: Omit<OutgoingMessage, 'body'> = {
  messageId: 'order 42',
  correlationId: 'c/1',
  userId: 'ops',
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  ack: 'full',
  expiryTimeUtc: EXPIRY,
  properties: { 'a b': 'x & y = z / +', zone: 'Zürich', 'per%cent': '50%' },
};

describe('HTTP headers', () => {
  test('a full message: golden headers', () => {
    assert.deepEqual(sendHeaders(FULL), {
      'iothub-messageid': 'order 42',
      'iothub-correlationid': 'c/1',
      'iothub-userid': 'ops',
      'iothub-ack': 'full',
      'iothub-expiry': '2030-01-01T00:00:00.000Z',
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
      'iothub-app-a%20b': 'x & y = z / +',
      'iothub-app-zone': 'ZÃ¼rich',
      'iothub-app-per%25cent': '50%',
    });
  });

  test('an empty message writes no header at all', () => {
    assert.deepEqual(sendHeaders({ properties: {} }), {});
  });

  test('round trip through the hub-side reader', () => {
    const h = sendHeaders(FULL);
    assert.deepEqual(messageFromSendHeaders(Object.keys(h), headerReader(h)), FULL);
    assert.deepEqual(messageFromSendHeaders([], headerReader({})), { properties: {} });
  });

  test('bad ack and expiry are ArgumentInvalid', () => {
    for (const h of [{ 'iothub-ack': 'sometimes' }, { 'iothub-expiry': 'tomorrow' }]) {
      assert.throws(
        () => messageFromSendHeaders(Object.keys(h), headerReader(h)),
        (e: Error & { errorName?: string }) => e.errorName === 'ArgumentInvalid',
      );
    }
  });

  test('a device receive answer', () => {
    const h = {
      etag: '"6f1c-lock"',
      'content-type': 'application/octet-stream',
      'iothub-messageid': 'order-42',
      'iothub-sequencenumber': '7',
      'iothub-enqueuedtime': '2029-12-31T23:00:00.000Z',
      'iothub-expiry': '2030-01-01T00:00:00.000Z',
      'iothub-deliverycount': '2',
      'iothub-ack': 'full',
      'iothub-to': '/devices/dev1/messages/devicebound',
      contenttype: 'application/json',
      'iothub-app-zone': 'ZÃ¼rich',
      'iothub-app-a%20b': 'spaced',
    };
    assert.deepEqual(receivedFromHeaders(Object.keys(h), headerReader(h)), {
      lockToken: '6f1c-lock',
      messageId: 'order-42',
      contentType: 'application/json',
      ack: 'full',
      expiryTimeUtc: EXPIRY,
      enqueuedTimeUtc: EXPIRY - 3600_000,
      sequenceNumber: 7,
      deliveryCount: 2,
      to: '/devices/dev1/messages/devicebound',
      properties: { zone: 'Zürich', 'a b': 'spaced' },
    });
  });
});

describe('AMQP fields', () => {
  test('a full message: golden fields', () => {
    assert.deepEqual(amqpFromMessage('dev 1/x', FULL), {
      to: '/devices/dev%201%2Fx/messages/devicebound',
      message_id: 'order 42',
      correlation_id: 'c/1',
      user_id: Buffer.from('ops'),
      content_type: 'application/json',
      content_encoding: 'utf-8',
      absolute_expiry_time: EXPIRY,
      application_properties: { ...FULL.properties, 'iothub-ack': 'full' },
    });
  });

  test('an empty message carries only its address', () => {
    assert.deepEqual(amqpFromMessage('dev1', { properties: {} }), {
      to: '/devices/dev1/messages/devicebound',
      application_properties: {},
    });
  });

  test('what a device receives: uuid ids, Date timestamps, annotations', () => {
    const uuid = Buffer.from('6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e', 'hex');
    const m = receivedFromAmqp({
      message_id: uuid,
      correlation_id: 7,
      user_id: Buffer.from('ops'),
      absolute_expiry_time: new Date(EXPIRY),
      application_properties: { 'iothub-ack': 'negative', n: 3, flag: true, 'a b': 'x&y' },
      message_annotations: {
        'iothub-enqueuedtime': new Date(EXPIRY - 1),
        'x-opt-sequence-number': 9,
        'iothub-deliverycount': 1,
      },
    });
    assert.deepEqual(m, {
      messageId: '6f1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e',
      correlationId: '7',
      userId: 'ops',
      ack: 'negative',
      expiryTimeUtc: EXPIRY,
      enqueuedTimeUtc: EXPIRY - 1,
      sequenceNumber: 9,
      deliveryCount: 1,
      properties: { n: '3', flag: 'true', 'a b': 'x&y' },
    });
  });

  test('body bytes from a data section, several sections, binary or a string', () => {
    assert.deepEqual(amqpBodyBytes({ typecode: 0x75, content: Buffer.from('ab') }), Buffer.from('ab'));
    const two = { typecode: 0x75, multiple: true, content: [Buffer.from('a'), Buffer.from('b')] };
    assert.deepEqual(amqpBodyBytes(two), Buffer.from('ab'));
    assert.deepEqual(amqpBodyBytes(Buffer.from([0, 255])), Buffer.from([0, 255]));
    assert.deepEqual(amqpBodyBytes('é'), Buffer.from('é'));
    assert.deepEqual(amqpBodyBytes(undefined), Buffer.alloc(0));
  });
});

describe('MQTT topic', () => {
  test('a full message: golden topic (official-sdk-wire.md A order, every reserved character encoded)', () => {
    assert.equal(
      mqttTopicFromMessage('dev1', FULL),
      'devices/dev1/messages/devicebound/%24.mid=order%2042&%24.to=%2Fdevices%2Fdev1%2Fmessages%2Fdevicebound' +
        '&%24.exp=2030-01-01T00%3A00%3A00.000Z&%24.cid=c%2F1&%24.uid=ops&%24.ct=application%2Fjson&%24.ce=utf-8' +
        '&iothub-ack=full&a%20b=x%20%26%20y%20%3D%20z%20%2F%20%2B&zone=Z%C3%BCrich&per%25cent=50%25',
    );
  });

  test('an empty message keeps the slash before the bag and writes only $.to', () => {
    assert.equal(
      mqttTopicFromMessage('dev1', { properties: {} }),
      'devices/dev1/messages/devicebound/%24.to=%2Fdevices%2Fdev1%2Fmessages%2Fdevicebound',
    );
  });

  test('round trip', () => {
    const m = receivedFromMqttTopic(mqttTopicFromMessage('dev1', FULL));
    assert.deepEqual(m, {
      messageId: 'order 42',
      to: '/devices/dev1/messages/devicebound',
      expiryTimeUtc: EXPIRY,
      correlationId: 'c/1',
      userId: 'ops',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      ack: 'full',
      properties: FULL.properties,
    });
  });

  test('a topic that is not C2D is ArgumentInvalid', () => {
    assert.throws(() => receivedFromMqttTopic('devices/dev1/messages/events/'), /Not a C2D topic/);
  });
});
