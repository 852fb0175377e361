/**
 * Issue 13: a system property reaches a wire only when the sender set it. Each writer (the MQTT
 * topic's property bag, the AMQP device transfer, the HTTPS delivery headers) is checked with a
 * message that sets nothing, then with each system property set alone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Delivery, decodePropertyBag } from '@ferry/common';
import { encodeDelivery } from '../src/gateways/amqp/message-codec.js';
import { deliveryHeaders } from '../src/gateways/http/device-routes.js';
import { c2dTopic } from '../src/gateways/mqtt/topic.js';

const EXPIRY = Date.UTC(2030, 0, 1);

const BARE: Delivery = {
  deviceId: 'd1',
  sequenceNumber: 3,
  expiryTimeUtc: EXPIRY,
  defaultExpiry: true,
  enqueuedTimeUtc: EXPIRY - 60_000,
  properties: { app: 'v' },
  body: Buffer.from('x'),
  deliveryCount: 0,
  lockToken: '11111111-2222-4333-8444-555555555555',
  lockedUntil: EXPIRY - 1000,
  redelivered: false,
};

/** One row per system property: how a sender sets it, and what each wire shows for it. */
const CASES: Array<{
  name: string;
  set: Partial<Delivery>;
  mqtt: [string, string];
  amqp: string;
  http: [string, string];
}> = [
  {
    name: 'message id',
    set: { messageId: 'm-1' },
    mqtt: ['$.mid', 'm-1'],
    amqp: 'message_id',
    http: ['iothub-messageid', 'm-1'],
  },
  {
    name: 'correlation id',
    set: { correlationId: 'c-1' },
    mqtt: ['$.cid', 'c-1'],
    amqp: 'correlation_id',
    http: ['iothub-correlationid', 'c-1'],
  },
  { name: 'user id', set: { userId: 'u-1' }, mqtt: ['$.uid', 'u-1'], amqp: 'user_id', http: ['iothub-userid', 'u-1'] },
  {
    name: 'content type',
    set: { contentType: 'application/json' },
    mqtt: ['$.ct', 'application/json'],
    amqp: 'content_type',
    http: ['content-type', 'application/json'],
  },
  {
    name: 'content encoding',
    set: { contentEncoding: 'utf-8' },
    mqtt: ['$.ce', 'utf-8'],
    amqp: 'content_encoding',
    http: ['contentencoding', 'utf-8'],
  },
  {
    name: 'expiry',
    set: { defaultExpiry: false },
    mqtt: ['$.exp', '2030-01-01T00:00:00.000Z'],
    amqp: 'absolute_expiry_time',
    http: ['iothub-expiry', '2030-01-01T00:00:00.000Z'],
  },
];

const SYSTEM_BAG_KEYS = ['$.mid', '$.cid', '$.uid', '$.ct', '$.ce', '$.exp', 'iothub-ack'];
const SYSTEM_AMQP_FIELDS = [
  'message_id',
  'correlation_id',
  'user_id',
  'content_type',
  'content_encoding',
  'absolute_expiry_time',
];
const SYSTEM_HEADERS = [
  'iothub-messageid',
  'iothub-correlationid',
  'iothub-userid',
  'content-type',
  'contenttype',
  'contentencoding',
  'iothub-expiry',
  'iothub-ack',
];

function bag(d: Delivery): Map<string, string | null> {
  return new Map(decodePropertyBag(c2dTopic(d.deviceId, d).split('/').slice(4).join('/')));
}

function headers(d: Delivery): Record<string, unknown> {
  return Object.fromEntries(Object.entries(deliveryHeaders(d)).map(([k, v]) => [k.toLowerCase(), v]));
}

describe('a message that sets no system property', () => {
  test('MQTT: the bag holds only $.to (the hub’s own) and the application properties', () => {
    assert.deepEqual(
      [...bag(BARE)],
      [
        ['$.to', '/devices/d1/messages/devicebound'],
        ['app', 'v'],
      ],
    );
  });

  test('AMQP: no system field and no iothub-ack; to and the annotations are the hub’s own', () => {
    const msg = encodeDelivery(BARE) as unknown as Record<string, unknown>;
    for (const field of SYSTEM_AMQP_FIELDS) assert.equal(msg[field], undefined, field);
    assert.deepEqual(msg.application_properties, { app: 'v' });
    assert.equal(msg.to, '/devices/d1/messages/deviceBound');
  });

  test('HTTPS: no system header; the hub’s own headers are there', () => {
    const h = headers(BARE);
    for (const name of SYSTEM_HEADERS) assert.equal(h[name], undefined, name);
    assert.equal(h['iothub-to'], '/devices/d1/messages/devicebound');
    assert.equal(h['iothub-sequencenumber'], '3');
    assert.equal(h['iothub-app-app'], 'v');
  });
});

describe('each system property set alone appears alone, on every wire', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const d: Delivery = { ...BARE, ...c.set };
      const b = bag(d);
      assert.equal(b.get(c.mqtt[0]), c.mqtt[1]);
      for (const key of SYSTEM_BAG_KEYS) if (key !== c.mqtt[0]) assert.equal(b.has(key), false, key);

      const msg = encodeDelivery(d) as unknown as Record<string, unknown>;
      assert.notEqual(msg[c.amqp], undefined);
      for (const field of SYSTEM_AMQP_FIELDS) if (field !== c.amqp) assert.equal(msg[field], undefined, field);

      const h = headers(d);
      assert.equal(h[c.http[0]], c.http[1]);
      const alsoContentType = c.http[0] === 'content-type' ? ['contenttype'] : [];
      for (const name of SYSTEM_HEADERS) {
        if (name !== c.http[0] && !alsoContentType.includes(name)) assert.equal(h[name], undefined, name);
      }
    });
  }

  for (const ack of ['none', 'positive', 'negative', 'full'] as const) {
    test(`ack ${ack}, when the sender set it, is written as sent`, () => {
      const d: Delivery = { ...BARE, ack };
      assert.equal(bag(d).get('iothub-ack'), ack);
      const msg = encodeDelivery(d);
      assert.deepEqual(msg.application_properties, { app: 'v', 'iothub-ack': ack });
      assert.equal(headers(d)['iothub-ack'], ack);
    });
  }
});
