/**
 * The official AMQP clients against a real hub process (issue 3 "Verified by"): azure-iothub
 * Client over Amqp and AmqpWs (send, feedback, errors), azure-iot-device with azure-iot-device-amqp
 * over Amqp and AmqpWs (receive, complete, reject, abandon), expiry, token renewal, bad input.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { createSasToken } from '@ferry/common';
import rhea, { type ConnectionOptions, type EventContext } from 'rhea';
import {
  type AmqpTransportName,
  annotation,
  c2dMessage,
  type FeedbackRecord,
  openAmqpDevice,
  openService,
  type Service,
  sendResult,
} from './amqp-helpers.js';
import { type HubProcess, startHub } from './harness.js';
import { deviceSas, WRONG_KEY } from './helpers/auth.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const T = { timeout: 120_000 };

async function nextFeedback(svc: Service, id: string): Promise<FeedbackRecord> {
  for (;;) {
    const r = await svc.feedback.next(20_000, `feedback for ${id}`);
    if (r.originalMessageId === id) return r;
  }
}

describe('official AMQP clients', () => {
  let hub: HubProcess;
  before(async () => {
    hub = await startHub({
      config: { feedback: { batchDelayMs: 0 }, c2d: { maxDeliveryCount: 3 }, log: { level: 'info' } },
    });
  });
  after(async () => {
    await hub?.stop();
  });

  for (const transport of ['Amqp', 'AmqpWs'] as AmqpTransportName[]) {
    describe(`over ${transport}`, () => {
      let svc: Service;
      const dev = (name: string) => `${transport.toLowerCase()}-${name}`;
      before(async () => {
        svc = await openService(hub, transport);
      });
      after(async () => {
        await svc?.close();
      });

      test('send with ack full reaches the device; complete gives Success feedback with the same id', T, async () => {
        const cs = await hub.createDevice(dev('full'));
        const d = await openAmqpDevice(hub, cs, transport);
        try {
          const id = `${transport}-m1`;
          assert.equal(
            await sendResult(svc, dev('full'), c2dMessage('hello', { messageId: id, ack: 'full' })),
            undefined,
          );
          const m = await d.inbox.next();
          assert.equal(m.messageId, id);
          await d.client.complete(m);
          const fb = await nextFeedback(svc, id);
          assert.equal(fb.statusCode, 'Success');
          assert.equal(fb.deviceId, dev('full'));
        } finally {
          await d.close();
        }
      });

      test('every property arrives intact', T, async () => {
        const cs = await hub.createDevice(dev('props'));
        const d = await openAmqpDevice(hub, cs, transport);
        try {
          const m = c2dMessage('{"cmd":"reboot"}', {
            messageId: 'b4c1a4b2-1f6e-4c5d-9a0b-2c3d4e5f6a7b',
            ack: 'positive',
          });
          const expiry = Date.now() + 600_000;
          m.expiryTimeUtc = expiry;
          m.correlationId = 'corr-1';
          m.contentType = 'application/json' as never;
          m.contentEncoding = 'utf-8' as never;
          m.properties.add('myProp', 'x y');
          m.properties.add('kind', 'test');
          assert.equal(await sendResult(svc, dev('props'), m), undefined);
          const got = await d.inbox.next();
          assert.equal(got.data.toString(), '{"cmd":"reboot"}');
          assert.equal(got.messageId, 'b4c1a4b2-1f6e-4c5d-9a0b-2c3d4e5f6a7b');
          assert.equal(got.correlationId, 'corr-1');
          assert.equal(got.contentType, 'application/json');
          assert.equal(got.contentEncoding, 'utf-8');
          assert.equal(new Date(got.expiryTimeUtc as unknown as number).getTime(), expiry);
          assert.equal(got.ack, 'positive');
          assert.equal(got.properties.getValue('myProp'), 'x y');
          assert.equal(got.properties.getValue('kind'), 'test');
          assert.equal(got.to, `/devices/${dev('props')}/messages/deviceBound`);
          await d.client.complete(got);
        } finally {
          await d.close();
        }
      });

      test(
        'reject gives Rejected feedback; abandon redelivers with delivery count 1, then DeliveryCountExceeded',
        T,
        async () => {
          const cs = await hub.createDevice(dev('settle'));
          const d = await openAmqpDevice(hub, cs, transport);
          try {
            assert.equal(
              await sendResult(svc, dev('settle'), c2dMessage('r', { messageId: `${transport}-rej`, ack: 'full' })),
              undefined,
            );
            await d.client.reject(await d.inbox.next());
            assert.equal((await nextFeedback(svc, `${transport}-rej`)).statusCode, 'Rejected');

            assert.equal(
              await sendResult(svc, dev('settle'), c2dMessage('a', { messageId: `${transport}-ab`, ack: 'full' })),
              undefined,
            );
            const first = await d.inbox.next();
            assert.equal(annotation(first, 'iothub-deliverycount'), 0);
            await d.client.abandon(first);
            const second = await d.inbox.next();
            assert.equal(second.messageId, `${transport}-ab`);
            assert.equal(annotation(second, 'iothub-deliverycount'), 1);
            await d.client.abandon(second);
            const third = await d.inbox.next();
            await d.client.abandon(third); // maxDeliveryCount 3
            assert.equal((await nextFeedback(svc, `${transport}-ab`)).statusCode, 'DeliveryCountExceeded');
          } finally {
            await d.close();
          }
        },
      );

      test(
        'unknown device -> DeviceNotFoundError; the 51st pending -> DeviceMaximumQueueDepthExceededError',
        T,
        async () => {
          const err = await sendResult(svc, `${transport}-nobody`, c2dMessage('x'));
          assert.equal(err?.name, 'DeviceNotFoundError');
          await hub.createDevice(dev('deep'));
          for (let i = 0; i < 50; i++) assert.equal(await sendResult(svc, dev('deep'), c2dMessage(`m${i}`)), undefined);
          const full = await sendResult(svc, dev('deep'), c2dMessage('one too many'));
          assert.equal(full?.name, 'DeviceMaximumQueueDepthExceededError');
        },
      );

      // Regression: the official client attaches one sender link per send issued before its first
      // link is up; with a 64-link cap a burst of 100 on a fresh client hung for good.
      test('500 sends issued at once on a freshly opened client are all answered', T, async () => {
        await hub.createDevice(dev('burst'));
        const fresh = await openService(hub, transport, false);
        try {
          const results = await Promise.all(
            Array.from({ length: 500 }, (_, i) =>
              sendResult(fresh, dev('burst'), c2dMessage(`burst${i}`, { expiryTimeUtc: Date.now() + 60_000 })),
            ),
          );
          const failures = results.filter((r) => r !== undefined);
          // The queue holds 50: every send gets an answer, 50 accepted and the rest refused as queue full.
          assert.equal(results.length - failures.length, 50);
          assert.ok(failures.every((e) => e?.name === 'DeviceMaximumQueueDepthExceededError'));
        } finally {
          await fresh.close();
        }
      });

      test('200 sends issued at once are all accepted and all delivered', T, async () => {
        const ids = [0, 1, 2, 3].map((k) => dev(`bulk${k}`));
        const devices = [];
        for (const id of ids) devices.push(await openAmqpDevice(hub, await hub.createDevice(id), transport));
        try {
          const sends = [];
          for (let i = 0; i < 200; i++)
            sends.push(sendResult(svc, ids[i % 4]!, c2dMessage(`b${i}`, { messageId: `${transport}-b${i}` })));
          const results = await Promise.all(sends);
          assert.deepEqual(
            results.filter((r) => r !== undefined),
            [],
          );
          const got = new Set<string>();
          await Promise.all(
            devices.map(async (d) => {
              for (let i = 0; i < 50; i++) {
                const m = await d.inbox.next(30_000);
                got.add(String(m.messageId));
                await d.client.complete(m);
              }
            }),
          );
          assert.equal(got.size, 200);
        } finally {
          for (const d of devices) await d.close();
        }
      });
    });
  }

  test('a 2-second expiry that nobody receives produces Expired feedback', T, async () => {
    const svc = await openService(hub, 'Amqp');
    try {
      await hub.createDevice('expiring');
      assert.equal(
        await sendResult(
          svc,
          'expiring',
          c2dMessage('late', { messageId: 'exp-1', ack: 'negative', expiryTimeUtc: Date.now() + 2000 }),
        ),
        undefined,
      );
      assert.equal((await nextFeedback(svc, 'exp-1')).statusCode, 'Expired');
    } finally {
      await svc.close();
    }
  });

  test('token renewal keeps an open device connection receiving', T, async () => {
    const svc = await openService(hub, 'Amqp', false);
    const cs = await hub.createDevice('renewing');
    const d = await openAmqpDevice(hub, cs, 'Amqp', {
      tokenRenewal: { tokenValidTimeInSeconds: 3, tokenRenewalMarginInSeconds: 2 },
    });
    try {
      const puts = () =>
        hub
          .output()
          .split('\n')
          .filter((l) => l.includes('"principal":"renewing"') && l.includes('cbs put-token accepted')).length;
      const before = puts();
      await waitFor(() => (puts() >= before + 3 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'three token renewals',
      });
      assert.equal(await sendResult(svc, 'renewing', c2dMessage('still here', { messageId: 'renew-1' })), undefined);
      const m = await d.inbox.next();
      assert.equal(m.messageId, 'renew-1');
      await d.client.complete(m);
    } finally {
      await d.close();
      await svc.close();
    }
  });

  test("a token for another device cannot attach this device's link", T, async () => {
    await hub.createDevice('victim');
    const csB = await hub.createDevice('intruder');
    const ca = readFileSync(hub.caFile, 'utf8');
    // The official client never attaches another device's address itself, so speak its wire with rhea.
    const conn = rhea.create_container().connect({
      host: hub.address,
      port: 5671,
      transport: 'tls',
      ca,
      servername: hub.address,
      reconnect: false,
    } as ConnectionOptions);
    conn.on('error', () => {});
    conn.on('receiver_error', () => {});
    await new Promise((r) => conn.once('connection_open', r));
    const replies = conn.open_receiver({ source: '$cbs', autoaccept: true });
    const requests = conn.open_sender({ target: '$cbs' });
    const status = new Promise<unknown>((resolve) =>
      replies.on('message', (ctx: EventContext) => resolve(ctx.message?.application_properties?.['status-code'])),
    );
    const tokenB = deviceSas(csB);
    requests.send({
      message_id: 'put-b',
      reply_to: 'cbs',
      to: '$cbs',
      application_properties: {
        operation: 'put-token',
        type: 'servicebus.windows.net:sastoken',
        name: /sr=([^&]*)/.exec(tokenB)![1],
      },
      body: tokenB,
    });
    assert.equal(await withTimeout(status, 10_000, 'put-token reply'), 200);
    const victim = conn.open_receiver({ source: '/devices/victim/messages/devicebound', autoaccept: false });
    await withTimeout(new Promise((r) => victim.once('receiver_close', r)), 10_000, "the victim's link to be refused");
    assert.equal((victim.error as { condition?: string } | undefined)?.condition, 'amqp:unauthorized-access');
    const own = conn.open_receiver({ source: '/devices/intruder/messages/devicebound', autoaccept: false });
    await withTimeout(new Promise((r) => own.once('receiver_open', r)), 10_000, 'its own link to attach');
    assert.equal((own.source as { address?: string } | null)?.address, '/devices/intruder/messages/devicebound');
    conn.close();
  });

  test('bad input is refused cleanly and the hub keeps serving', T, async () => {
    const ca = readFileSync(hub.caFile, 'utf8');
    // Random bytes after the AMQP header.
    const sock = tlsConnect({ host: hub.address, port: 5671, ca, servername: hub.address });
    sock.on('error', () => {});
    await new Promise((r) => sock.once('secureConnect', r));
    sock.resume(); // read, so the hub's close is seen
    sock.write(Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), randomBytes(200)]));
    await withTimeout(new Promise((r) => sock.once('close', r)), 10_000, 'the hub to drop the garbage connection');

    // rhea as a raw client: wrong signature, unknown address, transfer without credit.
    const conn = rhea.create_container().connect({
      host: hub.address,
      port: 5671,
      transport: 'tls',
      ca,
      servername: hub.address,
      reconnect: false,
    } as ConnectionOptions);
    conn.on('error', () => {});
    conn.on('sender_error', () => {});
    conn.on('receiver_error', () => {});
    await new Promise((r) => conn.once('connection_open', r));
    const replies = conn.open_receiver({ source: '$cbs', autoaccept: true });
    const requests = conn.open_sender({ target: '$cbs' });
    const status = new Promise<unknown>((resolve) =>
      replies.on('message', (ctx: EventContext) => resolve(ctx.message?.application_properties?.['status-code'])),
    );
    const bad = createSasToken({
      resourceUri: hub.address,
      key: WRONG_KEY,
      keyName: 'iothubowner',
      expiry: Math.floor(Date.now() / 1000) + 600,
      encode: false,
    });
    requests.send({
      message_id: 'bad-1',
      reply_to: 'cbs',
      to: '$cbs',
      application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: hub.address },
      body: bad,
    });
    assert.equal(await withTimeout(status, 10_000, 'put-token reply'), 401);
    const unknown = conn.open_receiver({ source: '/no/such/node' });
    await withTimeout(new Promise((r) => unknown.once('receiver_close', r)), 10_000, 'unknown address refused');
    // No valid token on this connection: refused as unauthorized before "not found" (issue 23).
    assert.equal((unknown.error as { condition?: string } | undefined)?.condition, 'amqp:unauthorized-access');
    // Beyond the $cbs credit, pretending we were granted more.
    await new Promise((r) => (requests.sendable() ? r(undefined) : requests.once('sendable', r)));
    (requests as unknown as { credit: number }).credit = 500;
    for (let i = 0; i < 200; i++)
      requests.send({ message_id: `flood-${i}`, application_properties: { operation: 'put-token' }, body: 'x' });
    await withTimeout(
      new Promise((r) => requests.once('sender_close', r)),
      10_000,
      'the flooded $cbs link to be detached',
    );
    conn.close();

    // Others are still served.
    const svc = await openService(hub, 'Amqp', false);
    await hub.createDevice('after-bad');
    assert.equal(await sendResult(svc, 'after-bad', c2dMessage('fine')), undefined);
    await svc.close();
  });
});
