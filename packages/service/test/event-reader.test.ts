/**
 * The pure parts of ServiceClient.readEvents: the selector filter written for each start (the
 * text @azure/event-hubs writes, which the hub's event-hubs/selector.ts reads), the hub name of a
 * host, and a received AMQP message as a TelemetryEvent. The reader end to end is in
 * test/compat/sdk-events.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventOf, hubNameOf, selectorFor } from '../src/event-reader.js';

test('selectorFor: the filter text of each start', () => {
  assert.equal(selectorFor('earliest'), "amqp.annotation.x-opt-offset > '-1'");
  assert.equal(selectorFor('latest'), "amqp.annotation.x-opt-offset > '@latest'");
  assert.equal(selectorFor(new Date(1_700_000_000_123)), "amqp.annotation.x-opt-enqueued-time > '1700000000123'");
  assert.equal(selectorFor({ sequenceNumber: 7 }), "amqp.annotation.x-opt-sequence-number > '7'");
  assert.equal(selectorFor({ sequenceNumber: 7, inclusive: true }), "amqp.annotation.x-opt-sequence-number >= '7'");
});

test('hubNameOf: the first DNS label, or the whole address', () => {
  assert.equal(hubNameOf('myhub.azure-devices.net'), 'myhub');
  assert.equal(hubNameOf('127.0.0.5'), '127.0.0.5');
  assert.equal(hubNameOf('::1'), '::1');
});

test('eventOf: body, properties, system properties, annotations and position', () => {
  const enqueued = new Date(1_700_000_000_000);
  const e = eventOf(
    {
      body: Buffer.from('{"t":21}'),
      message_id: 'm1',
      correlation_id: 'c1',
      user_id: Buffer.from('u1') as unknown as string,
      content_type: 'application/json',
      application_properties: { level: 'high' },
      message_annotations: {
        'x-opt-sequence-number': 12,
        'x-opt-offset': '3456',
        'x-opt-enqueued-time': enqueued,
        'iothub-connection-device-id': 'dev-1',
        'iothub-message-source': 'Telemetry',
      },
    },
    2,
  );
  assert.deepEqual(e, {
    deviceId: 'dev-1',
    body: Buffer.from('{"t":21}'),
    properties: { level: 'high' },
    system: { messageId: 'm1', correlationId: 'c1', userId: 'u1', contentType: 'application/json' },
    annotations: { 'iothub-connection-device-id': 'dev-1', 'iothub-message-source': 'Telemetry' },
    enqueuedTime: enqueued,
    partition: 2,
    sequenceNumber: 12,
    offset: '3456',
  });
  // A body rhea left as a described data section.
  const described = eventOf({ body: { typecode: 0x75, content: Buffer.from('x') } as never }, 0);
  assert.deepEqual(described.body, Buffer.from('x'));
});
