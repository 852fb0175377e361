/**
 * The hub is killed (SIGKILL) and restarted while Ferry's device SDK waits in receive() and the
 * service SDK sends in a loop: the devices reconnect by themselves and get every accepted
 * message, and the sender retries what failed transiently and raises nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { type ConnectionState, DeviceClient, ExponentialBackoffWithJitter } from '@ferry/device';
import { ServiceClient } from '@ferry/service';
import { type HubProcess, startHub } from './harness.js';
import { waitFor } from './helpers/wait.js';

const T = { timeout: 150_000 };
const TRANSPORTS = ['mqtt', 'amqp'] as const;
/** Patient enough to outlast a hub restart on a slow machine. */
const retry = new ExponentialBackoffWithJitter({ maxDelayMs: 1000, maxAttempts: 120 });

let hub: HubProcess;
let service: ServiceClient;
const devices = new Map<string, DeviceClient>();
const states = new Map<string, ConnectionState[]>();

before(async () => {
  // A message leased just before the kill stays locked after the restart until its lock expires.
  // Info logs: the renewal test counts the hub's "cbs put-token accepted" lines.
  hub = await startHub({ config: { c2d: { lockTimeoutMs: 3000 }, log: { level: 'info' } } });
  const ca = readFileSync(hub.caFile, 'utf8');
  service = ServiceClient.fromConnectionString(hub.connectionString('service'), { ca, retry });
  for (const transport of TRANSPORTS) {
    const cs = await hub.createDevice(`kill-${transport}`);
    const client = DeviceClient.fromConnectionString(cs, { transport, ca, retry });
    const seen: ConnectionState[] = [];
    client.on('state', (s) => seen.push(s));
    states.set(transport, seen);
    devices.set(transport, client);
    await client.open();
  }
});

after(async () => {
  for (const d of devices.values()) await d.close();
  await service?.close();
  await hub?.stop();
});

test('a receive() in progress survives the hub being killed and restarted', T, async () => {
  const pending = TRANSPORTS.map((t) => devices.get(t)!.receive({ timeoutMs: 120_000 }));
  await hub.kill();
  await hub.restart();
  for (const t of TRANSPORTS) await service.send(`kill-${t}`, { body: 'after the restart', messageId: `after-${t}` });
  const got = await Promise.all(pending);
  // The clients reconnected by themselves (the hub may cut a connection again while it settles).
  await waitFor(() => (TRANSPORTS.every((t) => devices.get(t)!.state === 'connected') ? true : undefined), {
    timeoutMs: 30_000,
    what: 'both devices connected again',
  });
  for (const [i, t] of TRANSPORTS.entries()) {
    assert.equal(got[i]?.messageId, `after-${t}`);
    await devices.get(t)!.complete(got[i]!);
    assert.ok(states.get(t)!.includes('reconnecting'), `${t} noticed the loss: ${states.get(t)}`);
  }
});

test('every message the hub accepted around a kill reaches the device', T, async () => {
  const accepted = new Map<string, Set<string>>(TRANSPORTS.map((t) => [t, new Set()]));
  const received = new Map<string, Set<string>>(TRANSPORTS.map((t) => [t, new Set()]));
  let sending = true;
  const receivers = TRANSPORTS.map(async (t) => {
    const device = devices.get(t)!;
    const missing = () => [...accepted.get(t)!].some((id) => !received.get(t)!.has(id));
    while (sending || missing()) {
      const m = await device.receive({ timeoutMs: 2000 });
      if (!m) continue;
      received.get(t)!.add(m.messageId!);
      // A lock from before a reconnect is gone; the hub delivers that message again.
      await device.complete(m).catch((e: { errorName?: string }) => assert.equal(e.errorName, 'DeviceMessageLockLost'));
    }
  });
  const N = 30;
  const sender = (async () => {
    for (let i = 0; i < N; i++) {
      for (const t of TRANSPORTS) {
        await service.send(`kill-${t}`, { body: String(i), messageId: `loop-${t}-${i}` });
        accepted.get(t)!.add(`loop-${t}-${i}`);
      }
      if (i === N / 2) {
        await hub.kill();
        void hub.restart();
      }
    }
  })();
  await sender.finally(() => {
    sending = false;
  });
  await Promise.all(receivers);
  for (const t of TRANSPORTS) {
    assert.equal(accepted.get(t)!.size, N);
    for (const id of accepted.get(t)!)
      assert.ok(received.get(t)!.has(id), `${t}: ${id} was accepted but never received`);
  }
});

test(
  'SAS tokens are renewed before they expire: MQTT reconnects with a new one, AMQP puts one on $cbs',
  T,
  async () => {
    const ca = readFileSync(hub.caFile, 'utf8');
    for (const transport of TRANSPORTS) {
      const id = `renew-${transport}`;
      const cs = await hub.createDevice(id);
      // A 4-second token is renewed after 3 s.
      const client = DeviceClient.fromConnectionString(cs, { transport, ca, retry, tokenLifetimeS: 4 });
      const seen: Array<[ConnectionState, string | undefined]> = [];
      client.on('state', (s, e) => seen.push([s, e?.errorName]));
      try {
        await client.open();
        if (transport === 'mqtt') {
          // Each renewal is a new CONNECT, announced as a reconnection for IotHubUnauthorized.
          const renewals = () => seen.filter(([s, e]) => s === 'reconnecting' && e === 'IotHubUnauthorized').length;
          await waitFor(() => (renewals() >= 2 ? true : undefined), {
            timeoutMs: 30_000,
            what: `two MQTT reconnections to renew the token (states: ${JSON.stringify(seen)})`,
          });
        } else {
          // The hub accepts a token for minutes past its expiry (clock skew), so a connection that
          // stays up proves nothing: count the put-tokens the hub accepted for this device on $cbs.
          const puts = () =>
            hub
              .output()
              .split('\n')
              .filter((l) => l.includes(`"principal":"${id}"`) && l.includes('cbs put-token accepted')).length;
          // The hub's log line may trail open() (no C2D link is attached after the put-token any more).
          await waitFor(() => (puts() >= 1 ? true : undefined), { what: `the put-token of ${id}'s open` });
          assert.equal(puts(), 1, 'the token of the open');
          await waitFor(() => (puts() >= 3 ? true : undefined), {
            timeoutMs: 30_000,
            what: `two put-tokens renewing ${id}'s token on $cbs (the hub accepted ${puts()} in all)`,
          });
          const lost = seen.filter(([s]) => s !== 'connecting' && s !== 'connected');
          assert.deepEqual(lost, [], 'AMQP renews on the open connection, without reconnecting');
        }
        await service.send(id, { body: 'after renewals', messageId: `renewed-${transport}` });
        const m = await client.receive({ timeoutMs: 20_000 });
        assert.equal(m?.messageId, `renewed-${transport}`);
        await client.complete(m!);
      } finally {
        await client.close();
      }
    }
  },
);
