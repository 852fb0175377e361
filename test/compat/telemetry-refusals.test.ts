/**
 * Telemetry the hub must refuse (issue 24), over real TLS, each with IoT Hub's error, and nothing
 * else on the connection or in the hub harmed:
 * - AMQP (rhea, the library under the official clients, one connection as the device): a sender
 *   link to another device's `/devices/{id}/messages/events` is refused with
 *   amqp:unauthorized-access; a message over 256 KB is rejected with
 *   amqp:link:message-size-exceeded (MessageTooLarge); a batch (format 0x80013700) whose sections
 *   are not AMQP messages is rejected with com.microsoft:argument-error (ArgumentInvalid). The
 *   same connection's C2D receiver then gets a message from the official service client, and its
 *   own telemetry link is still accepted.
 * - The official AMQP device client: sendEvent over 256 KB fails with MessageTooLargeError, and
 *   the client's C2D receiver still works.
 * - MQTT (mqtt.js): a PUBLISH over 256 KB and one with a malformed property bag close the
 *   connection (MQTT 3.1.1 has no error for a PUBLISH; IoT Hub closes too).
 * - Afterwards the event log holds the accepted events only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Message as DeviceMessage } from 'azure-iot-device';
import rhea, { type EventContext, type Message } from 'rhea';
import { c2dMessage, openService, type Service } from './amqp-helpers.js';
import { type HubProcess, startHub } from './harness.js';
import { amqpDeviceConnection as deviceConnection } from './helpers/amqp-device.js';
import { Inbox } from './helpers/inbox.js';
import { closeDevice } from './helpers/official-device.js';
import { eventsOnDisk, openDevice, telemetry } from './helpers/telemetry.js';
import { withTimeout } from './helpers/wait.js';
import { connectSilent } from './mqtt-helpers.js';

const T = { timeout: 90_000 };
const TOO_BIG = Buffer.alloc(256 * 1024 + 1, 0x41);
const BATCH_FORMAT = 0x80013700;

/**
 * The outcome of one transfer: 'accepted', or the rejection's error condition. With a message
 * format, rhea sends the payload as given (bytes), so a batch can be anything.
 */
function outcome(sender: rhea.Sender, message: Message | Buffer, what: string, format?: number): Promise<string> {
  const delivery =
    format === undefined ? sender.send(message as Message) : sender.send(message as Message, undefined, format);
  return withTimeout(
    new Promise<string>((resolve) => {
      const onSettled = (ctx: EventContext) => {
        if (ctx.delivery !== delivery) return;
        sender.off('accepted', onSettled);
        sender.off('rejected', onSettled);
        const state = ctx.delivery.remote_state as { error?: { condition?: string } } | undefined;
        resolve(state?.error?.condition ?? 'accepted');
      };
      sender.on('accepted', onSettled);
      sender.on('rejected', onSettled);
    }),
    15_000,
    `${what} to be settled`,
  );
}

describe('telemetry the hub refuses', () => {
  let hub: HubProcess;
  let service: Service;
  const css = new Map<string, string>();

  before(async () => {
    hub = await startHub();
    for (const id of ['ref-amqp', 'ref-official', 'ref-mqtt', 'ref-other']) css.set(id, await hub.createDevice(id));
    service = await openService(hub, 'Amqp', false);
  });

  after(async () => {
    await service?.close();
    await hub?.stop();
  });

  test(
    "AMQP: another device's address, an oversize message and a bad batch are refused; the connection's other links work",
    T,
    async () => {
      const conn = await deviceConnection(hub, css.get('ref-amqp')!, 'ref-amqp');
      try {
        const c2d = new Inbox<Message>();
        const receiver = conn.open_receiver({ source: '/devices/ref-amqp/messages/devicebound', autoaccept: true });
        receiver.on('message', (ctx: EventContext) => c2d.push(ctx.message!));
        const own = conn.open_sender({ target: '/devices/ref-amqp/messages/events' });
        await withTimeout(new Promise((r) => own.once('sendable', r)), 10_000, 'credit on the telemetry link');

        const other = conn.open_sender({ target: '/devices/ref-other/messages/events' });
        const refused = await withTimeout(
          new Promise<EventContext>((r) => other.once('sender_close', r)),
          10_000,
          "the other device's link to be refused",
        );
        assert.equal(
          refused.sender?.error && (refused.sender.error as { condition?: string }).condition,
          'amqp:unauthorized-access',
        );

        assert.equal(
          await outcome(own, { body: rhea.message.data_section(TOO_BIG) }, 'the oversize message'),
          'amqp:link:message-size-exceeded',
        );
        const encode = (m: Message) => rhea.message.encode(m) as unknown as Buffer;
        const notMessages = encode({
          body: rhea.message.data_sections([Buffer.from([0xff, 0x00, 0x13]), Buffer.from('x')]),
        });
        assert.equal(
          await outcome(own, notMessages, 'a batch of non-messages', BATCH_FORMAT),
          'com.microsoft:argument-error',
        );
        const bodyNotData = encode({ body: 'a string, not data sections' });
        assert.equal(
          await outcome(own, Buffer.from('not AMQP at all'), 'a batch of random bytes', BATCH_FORMAT),
          'com.microsoft:argument-error',
        );
        assert.equal(
          await outcome(own, bodyNotData, 'a batch without data sections', BATCH_FORMAT),
          'com.microsoft:argument-error',
        );

        assert.ok(own.is_open() && receiver.is_open() && !conn.is_closed(), 'the links and the connection stay open');
        assert.equal(
          await outcome(
            own,
            { message_id: 'amqp-ok', body: rhea.message.data_section(Buffer.from('amqp ok')) },
            'a good message',
          ),
          'accepted',
        );
        await withTimeout(
          service.client.send('ref-amqp', c2dMessage('still here', { messageId: 'c2d-1' })),
          15_000,
          'C2D send',
        );
        assert.equal((await c2d.next(15_000, 'the C2D message')).message_id, 'c2d-1');
      } finally {
        conn.close();
      }
    },
  );

  test(
    'official AMQP device: sendEvent over 256 KB fails with MessageTooLargeError; its C2D receiver still works',
    T,
    async () => {
      const client = await openDevice(hub, css.get('ref-official')!, 'Amqp');
      try {
        const c2d = new Inbox<DeviceMessage>();
        client.on('message', (m: DeviceMessage) => {
          c2d.push(m);
          void client.complete(m).catch(() => undefined);
        });
        await withTimeout(
          service.client.send('ref-official', c2dMessage('first', { messageId: 'c2d-a' })),
          15_000,
          'C2D send',
        );
        assert.equal((await c2d.next(15_000, 'the first C2D message')).messageId, 'c2d-a');

        const err = await withTimeout(
          client.sendEvent(telemetry(TOO_BIG)).then(
            () => undefined,
            (e: Error) => e,
          ),
          20_000,
          'the oversize sendEvent',
        );
        assert.equal(err?.constructor.name, 'MessageTooLargeError', String(err));

        await withTimeout(client.sendEvent(telemetry('official ok')), 20_000, 'a good sendEvent');
        await withTimeout(
          service.client.send('ref-official', c2dMessage('second', { messageId: 'c2d-b' })),
          15_000,
          'C2D send',
        );
        assert.equal((await c2d.next(15_000, 'the second C2D message')).messageId, 'c2d-b');
      } finally {
        await closeDevice(client);
      }
    },
  );

  for (const [what, topic, payload] of [
    ['a PUBLISH over 256 KB', 'devices/ref-mqtt/messages/events/', TOO_BIG],
    ['a malformed property bag (bad percent-encoding)', 'devices/ref-mqtt/messages/events/a%ZZ=1', Buffer.from('x')],
    ['a malformed property bag ($.exp not a date)', 'devices/ref-mqtt/messages/events/%24.exp=never', Buffer.from('x')],
  ] as const) {
    test(`MQTT: ${what} closes the connection`, T, async () => {
      const c = await connectSilent(hub, css.get('ref-mqtt')!);
      c.mqtt.publish(topic, payload, { qos: 1 });
      await withTimeout(c.closed, 10_000, 'the hub to close the connection');
      await c.end();
    });
  }

  test('the hub kept only what it accepted', T, async () => {
    const client = await openDevice(hub, css.get('ref-mqtt')!, 'Mqtt');
    try {
      await withTimeout(client.sendEvent(telemetry('mqtt ok')), 20_000, 'a good MQTT sendEvent');
    } finally {
      await closeDevice(client);
    }
    await hub.stop();
    const bodies = (await eventsOnDisk(hub.dataDir)).map((e) => e.body).sort();
    assert.deepEqual(bodies, ['amqp ok', 'mqtt ok', 'official ok']);
    await hub.restart();
  });
});
