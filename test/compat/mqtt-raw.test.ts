/**
 * The MQTT gateway driven by hand against a real hub: a client that never acknowledges (DUP after
 * the lock timeout and after a hub restart), refused subscriptions, and bad input of every kind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { generate } from 'mqtt-packet';
import { type HubProcess, startHub } from './harness.js';
import { deviceSas } from './helpers/auth.js';
import { send } from './helpers/send.js';
import { withTimeout } from './helpers/wait.js';
import { closedWith, connectSilent, midOf, openMqttDevice, rawTls } from './mqtt-helpers.js';

const T = { timeout: 120_000 };
const LOCK_MS = 1500;

/** Deterministic PRNG (mulberry32), so a failing byte sequence can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The hub still delivers to an official client end to end. */
async function stillServes(hub: HubProcess, cs: string, deviceId: string, messageId: string): Promise<void> {
  const device = await openMqttDevice(hub, cs);
  try {
    await send(hub, deviceId, { messageId });
    assert.equal((await device.next(15_000)).messageId, messageId);
  } finally {
    await device.close();
  }
}

describe('MQTT without PUBACK: redelivery with DUP', () => {
  let hub: HubProcess;

  before(async () => {
    hub = await startHub({ config: { c2d: { lockTimeoutMs: LOCK_MS } } });
  });

  after(async () => {
    await hub?.stop();
  });

  test('a message never acknowledged comes again with DUP after the lock timeout', T, async () => {
    const deviceId = 'no-ack';
    const cs = await hub.createDevice(deviceId);
    const c = await connectSilent(hub, cs);
    try {
      const granted = await c.mqtt.subscribeAsync(`devices/${deviceId}/messages/devicebound/#`, { qos: 1 });
      assert.equal(granted[0]?.qos, 1);
      await send(hub, deviceId, { messageId: 'n1' });
      const first = await c.nth(1);
      assert.equal(midOf(first), 'n1');
      assert.equal(first.dup, false);
      const again = await c.nth(2);
      assert.equal(midOf(again), 'n1');
      assert.equal(again.dup, true);
      assert.equal(again.qos, 1);
    } finally {
      await c.end();
    }
  });

  test(
    'an unacknowledged message comes again with DUP after a hub restart (clean session 0, no re-SUBSCRIBE)',
    T,
    async () => {
      const deviceId = 'no-ack-restart';
      const cs = await hub.createDevice(deviceId);
      const c = await connectSilent(hub, cs);
      await c.mqtt.subscribeAsync(`devices/${deviceId}/messages/devicebound/#`, { qos: 1 });
      await send(hub, deviceId, { messageId: 'r1' });
      const first = await c.nth(1);
      assert.equal(first.dup, false);
      await hub.restart();
      await withTimeout(c.closed, 10_000, 'the old connection to drop');
      await c.end();
      // The new connection does not subscribe: the stored session carries the subscription.
      const d = await connectSilent(hub, cs, { password: deviceSas(cs) });
      try {
        const again = await d.nth(1);
        assert.equal(midOf(again), 'r1');
        assert.equal(again.dup, true);
      } finally {
        await d.end();
      }
    },
  );

  test('after a hub crash (SIGKILL) the message comes again with DUP once its lock has run out', T, async () => {
    const deviceId = 'no-ack-crash';
    const cs = await hub.createDevice(deviceId);
    const c = await connectSilent(hub, cs);
    await c.mqtt.subscribeAsync(`devices/${deviceId}/messages/devicebound/#`, { qos: 1 });
    await send(hub, deviceId, { messageId: 'k1' });
    assert.equal((await c.nth(1)).dup, false);
    await hub.kill();
    await withTimeout(c.closed, 10_000, 'the old connection to drop');
    await c.end();
    await hub.restart();
    const d = await connectSilent(hub, cs, { password: deviceSas(cs) });
    try {
      const again = await d.nth(1);
      assert.equal(midOf(again), 'k1');
      assert.equal(again.dup, true);
    } finally {
      await d.end();
    }
  });
});

describe('MQTT bad input', () => {
  let hub: HubProcess;
  let cs: string;

  before(async () => {
    hub = await startHub();
    cs = await hub.createDevice('victim');
  });

  after(async () => {
    await hub?.stop();
  });

  test("a subscription to another device's topic is refused (0x80) and receives nothing", T, async () => {
    const otherCs = await hub.createDevice('other');
    const c = await connectSilent(hub, cs);
    try {
      // mqtt.js rejects a SUBACK failure code; the packet says what the hub answered.
      await assert.rejects(
        c.mqtt.subscribeAsync('devices/other/messages/devicebound/#', { qos: 1 }),
        (err: unknown) => {
          assert.deepEqual((err as { packet?: { granted?: number[] } }).packet?.granted, [0x80]);
          return true;
        },
      );
      await send(hub, 'other', { messageId: 'secret' });
      // The message is still there for its own device, and only there.
      const other = await openMqttDevice(hub, otherCs);
      try {
        assert.equal((await other.next(15_000)).messageId, 'secret');
      } finally {
        await other.close();
      }
      assert.equal(c.publishes.length, 0);
    } finally {
      await c.end();
    }
  });

  test('a malformed packet closes the connection; the hub keeps serving', T, async () => {
    const s = await rawTls(hub);
    const closed = closedWith(s);
    // SUBSCRIBE with reserved flags 0000 (MQTT-3.8.1-1) as the very first packet.
    s.write(Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x01]));
    assert.equal((await withTimeout(closed, 10_000, 'the hub to close')).length, 0);
    const s2 = await rawTls(hub);
    const closed2 = closedWith(s2);
    // A CONNECT whose flags set the reserved bit 0 (MQTT-3.1.2-3).
    s2.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x01, 0x00, 0x3c, 0x00, 0x00]));
    await withTimeout(closed2, 10_000, 'the hub to close');
    await stillServes(hub, cs, 'victim', 'after-malformed');
  });

  test("a PUBLISH to another device's telemetry topic closes the connection", T, async () => {
    const c = await connectSilent(hub, cs);
    c.mqtt.publish('devices/someone-else/messages/events/', 'hello', { qos: 1 });
    await withTimeout(c.closed, 10_000, 'the hub to close');
    await c.end();
  });

  test('a connection sending random bytes is closed; the hub keeps serving', T, async () => {
    const rnd = prng(1);
    for (let i = 0; i < 20; i++) {
      const s = await rawTls(hub);
      const closed = closedWith(s);
      // 0xe0 = DISCONNECT type: never a valid first packet, so the hub must close on its own.
      s.write(
        Buffer.concat([
          Buffer.from([0xe0 | Math.floor(rnd() * 16)]),
          Buffer.from(Array.from({ length: 63 }, () => Math.floor(rnd() * 256))),
        ]),
      );
      await withTimeout(closed, 10_000, `the hub to close random connection ${i}`);
    }
    await stillServes(hub, cs, 'victim', 'after-random');
  });

  test('10,000 bad connections in a row (malformed, random, wrong password): each refused, the hub keeps serving', {
    timeout: 600_000,
  }, async () => {
    const rnd = prng(2);
    const wrongPassword = generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'victim',
      clean: false,
      keepalive: 60,
      username: `${hub.address}/victim/?api-version=2021-04-12`,
      password: Buffer.from(deviceSas(cs, { key: Buffer.alloc(32, 9).toString('base64') })),
    });
    const badInput = (i: number): Buffer => {
      switch (i % 3) {
        case 0:
          return wrongPassword;
        case 1:
          return Buffer.from([0x82, 0x02, 0x00, 0x01]); // SUBSCRIBE first, and without topics
        default:
          return Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 48) }, () => Math.floor(rnd() * 256)));
      }
    };
    let refused = 0;
    let connack5 = 0;
    const N = 10_000;
    const PARALLEL = 16;
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < N; i = next++) {
        const s = await rawTls(hub);
        const closed = closedWith(s);
        // Random bytes may announce a longer frame; ending our side makes every case finish.
        s.end(badInput(i));
        const answer = await withTimeout(closed, 10_000, `bad connection ${i} to close`);
        if (i % 3 === 0 && answer.equals(Buffer.from([0x20, 0x02, 0x00, 0x05]))) connack5++;
        refused++;
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    assert.equal(refused, N);
    assert.equal(connack5, Math.ceil(N / 3));
    await stillServes(hub, cs, 'victim', 'after-10000');
  });
});
