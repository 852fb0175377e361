/**
 * DeviceClient over a fake transport: receive() waits, times out to null, survives a lost
 * connection (the client reconnects and subscribes again by itself), and fails with the
 * permanent error that stopped the reconnects; AMQP credit follows what is waited for.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FerryError } from '@ferry/common';
import { ExponentialBackoffWithJitter } from '@ferry/common/client';
import { type ConnectionState, DeviceClient } from '../src/device-client.js';
import type { DeviceTransport, Feature, ReceivedMessage, TransportEvents, TwinReply } from '../src/transport.js';

class FakeTransport implements DeviceTransport {
  connects = 0;
  events: TransportEvents | undefined;
  credit: number[] = [];
  settled: string[] = [];
  /** Errors the next connects fail with, in order. */
  failures: FerryError[] = [];
  enabled: Feature[] = [];

  async connect(events: TransportEvents): Promise<void> {
    this.connects++;
    const failure = this.failures.shift();
    if (failure) throw failure;
    this.events = events;
  }
  async enable(feature: Feature): Promise<void> {
    this.enabled.push(feature);
  }
  wanted(n: number): void {
    this.credit.push(n);
  }
  async settle(lockToken: string): Promise<void> {
    this.settled.push(lockToken);
  }
  async sendEvents(): Promise<void> {}
  async renewToken(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
  push(id: string): void {
    const m: ReceivedMessage = { messageId: id, lockToken: `lock-${id}`, properties: {}, body: Buffer.from(id) };
    this.events!.message(m);
  }
}

const fastRetry = new ExponentialBackoffWithJitter({ minDelayMs: 1, maxDelayMs: 5, maxAttempts: 5 });

function client(): { fake: FakeTransport; device: DeviceClient; states: ConnectionState[] } {
  const fake = new FakeTransport();
  const device = DeviceClient.fromTransport('dev1', fake, { retry: fastRetry });
  const states: ConnectionState[] = [];
  device.on('state', (s) => states.push(s));
  return { fake, device, states };
}

const busy = () => new FerryError('ServiceUnavailable', 'socket closed');

describe('DeviceClient', () => {
  test('receive() waits for the next message and asks the transport for exactly that one', async () => {
    const { fake, device } = client();
    await device.open();
    const pending = device.receive({ timeoutMs: 10_000 });
    await new Promise((r) => setImmediate(r));
    assert.equal(fake.credit.at(-1), 1);
    fake.push('a');
    const m = await pending;
    assert.equal(m?.messageId, 'a');
    await device.complete(m!);
    assert.deepEqual(fake.settled, ['lock-a']);
    await device.close();
  });

  test('a client that only sends leases no C2D: C2D is enabled once, by the first receive', async () => {
    const { fake, device } = client();
    await device.open();
    await device.sendEvent({ body: 'x' });
    assert.deepEqual(fake.enabled, []);
    const both = Promise.all([device.receive({ timeoutMs: 10_000 }), device.receive({ timeoutMs: 10_000 })]);
    await new Promise((r) => setImmediate(r));
    fake.push('a');
    fake.push('b');
    assert.deepEqual(
      (await both).map((m) => m?.messageId),
      ['a', 'b'],
    );
    assert.deepEqual(fake.enabled, ['c2d']);
    await device.close();
  });

  test('receive() resolves null after its time-out', async () => {
    const { device } = client();
    assert.equal(await device.receive({ timeoutMs: 20 }), null);
    await device.close();
  });

  test('a receive in progress survives a lost connection: reconnect, then the message', async () => {
    const { fake, device, states } = client();
    await device.open();
    const pending = device.receive({ timeoutMs: 10_000 });
    fake.failures.push(busy(), busy());
    fake.events!.lost(busy());
    for (let i = 0; device.state !== 'connected' || fake.connects < 4; i++) {
      assert.ok(i < 2000, `not reconnected after 10 s: ${device.state}, ${fake.connects} connects`);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(states, ['connecting', 'connected', 'reconnecting', 'connected']);
    fake.push('after');
    assert.equal((await pending)?.messageId, 'after');
    await device.close();
  });

  test('a permanent error stops the reconnects and fails the waiting receive with it', async () => {
    const { fake, device } = client();
    await device.open();
    const pending = device.receive({ timeoutMs: 10_000 });
    await new Promise((r) => setImmediate(r)); // the receive has subscribed to C2D and waits
    const denied = new FerryError('IotHubUnauthorizedAccess', 'device disabled');
    fake.failures.push(denied);
    fake.events!.lost(busy());
    await assert.rejects(pending, (e) => e === denied);
    assert.equal(device.state, 'disconnected');
    assert.equal(fake.connects, 2);
    await device.close();
  });

  test('close() resolves pending receives with null and ends messages()', async () => {
    const { device } = client();
    await device.open();
    const pending = device.receive({ timeoutMs: 10_000 });
    const iterated = (async () => {
      for await (const _ of device.messages()) assert.fail('no message was sent');
    })();
    await device.close();
    assert.equal(await pending, null);
    await iterated;
  });

  test('a twin request lost with its connection is asked again once connected; events wait for the reconnect', async () => {
    const fake = new (class extends FakeTransport {
      twinCalls = 0;
      sent = 0;
      async twinRequest(): Promise<TwinReply> {
        if (++this.twinCalls === 1) throw busy();
        return { status: 200, version: undefined, body: Buffer.from('{"desired":{"$version":2},"reported":{}}') };
      }
      override async sendEvents(): Promise<void> {
        this.sent++;
      }
    })();
    const device = DeviceClient.fromTransport('dev1', fake, { retry: fastRetry });
    assert.equal((await device.getTwin()).desired.$version, 2);
    assert.equal(fake.twinCalls, 2);
    assert.deepEqual(fake.enabled, ['twin', 'twin']);
    fake.failures.push(busy());
    fake.events!.lost(busy());
    await device.sendEvent({ body: 'x' });
    assert.equal(device.state, 'connected');
    assert.equal(fake.sent, 1);
    await device.close();
  });

  test('over a transport without twins or methods (HTTPS) they reject with NotImplemented', async () => {
    const { fake, device } = client();
    Object.assign(fake, { enable: undefined });
    await assert.rejects(device.getTwin(), (e: FerryError) => e.errorName === 'NotImplemented');
    await assert.rejects(
      device.onMethod('m', () => ({ status: 200 })),
      (e: FerryError) => e.errorName === 'NotImplemented',
    );
    await device.close();
  });
});
