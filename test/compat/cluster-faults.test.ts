/**
 * Faults of a two-node hub on PostgreSQL (issue 9): a node SIGKILLed while sends and receives go
 * through both (nothing acknowledged is lost; its devices reconnect to the other node and drain),
 * and PostgreSQL stopped and started again under load (the hubs stay up with their connections,
 * refuse what they cannot commit with ServerError / amqp:internal-error, and resume by themselves).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { after, afterEach, before, test } from 'node:test';
import { promisify } from 'node:util';
import common from 'azure-iot-common';
import { c2dMessage, openService, type Service, sendResult } from './amqp-helpers.js';
import { type HubProcess, startHub } from './harness.js';
import { atNode, clusterStore, dropSchema } from './helpers/postgres.js';
import { sendRaw } from './helpers/send.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { type MqttDevice, openMqttDevice } from './mqtt-helpers.js';

const T = { timeout: 150_000 };
const store = clusterStore('faults');
// Short locks: what the killed node had in flight comes back within seconds.
const config = { feedback: { batchDelayMs: 0 }, c2d: { lockTimeoutMs: 5000 } };
let a: HubProcess;
let b: HubProcess;
let failed = false;

async function pgctl(action: 'stop' | 'start'): Promise<void> {
  const version = readdirSync('/etc/postgresql')[0]!;
  await promisify(execFile)('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action]);
}

before(async () => {
  [a, b] = await Promise.all([startHub({ store, config }), startHub({ store, config })]);
});

afterEach((t) => {
  if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
});

after(async () => {
  // Whatever happened, the server is left running for everyone else.
  await pgctl('start').catch(() => undefined);
  await Promise.all([a?.stop(), b?.stop()]);
  if (!failed) await dropSchema(store.schema);
});

/** Message ids each device received, whichever client or node delivered them. */
class Received {
  readonly ids = new Set<string>();
  watch(device: MqttDevice): void {
    device.client.on('message', (m: { messageId?: string }) => {
      if (m.messageId) this.ids.add(m.messageId);
    });
  }
}

test(
  'SIGKILL of one node: nothing acknowledged is lost; its devices reconnect to the other node and drain',
  T,
  async () => {
    const ids = ['k0', 'k1', 'k2', 'k3'];
    const cs = new Map<string, string>();
    for (const id of ids) cs.set(id, await a.createDevice(id));
    const received = new Received();
    const devices: MqttDevice[] = [];
    const moved: Promise<void>[] = [];
    for (const [i, id] of ids.entries()) {
      const onB = i >= 2;
      const device = await openMqttDevice(onB ? b : a, onB ? atNode(cs.get(id)!, b.address) : cs.get(id)!);
      received.watch(device);
      devices.push(device);
      if (onB) {
        // When node B dies, the device comes back through node A (as behind a load balancer).
        device.client.setRetryPolicy(new common.NoRetry());
        moved.push(
          new Promise<void>((resolve) => {
            let once = false;
            const move = async () => {
              if (once) return;
              once = true;
              const again = await openMqttDevice(a, cs.get(id)!);
              received.watch(again);
              devices.push(again);
              resolve();
            };
            device.client.once('disconnect', () => void move());
            device.client.once('error', () => void move());
          }),
        );
      }
    }
    const [viaA, viaB] = await Promise.all([openService(a, 'Amqp', false), openService(b, 'Amqp', false)]);
    const acknowledged: Array<[string, string]> = [];
    try {
      let bAlive = true;
      for (let round = 0; round < 12; round++) {
        if (round === 4) {
          await b.kill();
          bAlive = false;
        }
        await Promise.all(
          ids.map(async (id, i) => {
            const messageId = `r${round}-${id}`;
            const svc: Service = bAlive && i % 2 === 1 ? viaB : viaA;
            if ((await sendResult(svc, id, c2dMessage(messageId, { messageId }))) === undefined) {
              acknowledged.push([id, messageId]);
            }
          }),
        );
      }
      await withTimeout(Promise.all(moved), 30_000, "node B's devices reconnecting to node A");
      await waitFor(() => (acknowledged.every(([, m]) => received.ids.has(m)) ? true : undefined), {
        timeoutMs: 60_000,
        what: `every acknowledged message received (missing: ${acknowledged.filter(([, m]) => !received.ids.has(m)).map(([, m]) => m)})`,
      });
      // Every round after the kill went through node A and was acknowledged.
      assert.ok(acknowledged.length >= 8 * ids.length, `acknowledged ${acknowledged.length}`);
    } finally {
      await Promise.all([viaA.close(), viaB.close(), ...devices.map((d) => d.close())]);
    }
    await b.restart();
  },
);

test('PostgreSQL stopped and started under load: hubs keep their connections, refuse, and resume', T, async (t) => {
  const csA = await a.createDevice('pg-a');
  const csB = atNode(await a.createDevice('pg-b'), b.address);
  const received = new Received();
  const devices = [await openMqttDevice(a, csA), await openMqttDevice(b, csB)];
  const drops: string[] = [];
  for (const d of devices) {
    received.watch(d);
    d.client.on('disconnect', () => drops.push('disconnect'));
  }
  const service = await openService(a, 'Amqp', false);
  // The SDK retries an internal error by default (and so rides over the outage); this probe must see it.
  service.client.setRetryPolicy(new common.NoRetry());
  const acknowledged: string[] = [];
  const refusals: string[] = [];
  let load = true;
  let n = 0;
  /** HTTPS sends to both devices through both nodes, one after another, until told to stop. */
  const loader = (async () => {
    while (load) {
      const [hub, device] = n % 2 ? [b, 'pg-b'] : [a, 'pg-a'];
      const messageId = `load-${n++}`;
      const res = await sendRaw(hub, device, { messageId }).catch((err: Error) => ({
        status: 0,
        headers: { 'iothub-errorcode': err.message },
        body: Buffer.alloc(0),
      }));
      if (res.status === 204) acknowledged.push(messageId);
      else refusals.push(`${res.status} ${String(res.headers['iothub-errorcode'])}`);
    }
  })();
  try {
    await waitFor(() => (acknowledged.length >= 10 ? true : undefined), { what: 'sends before the stop' });
    await outage();
    load = false;
    await loader;
    assert.ok(
      refusals.every((r) => r === '500 ServerError'),
      `a send was refused otherwise than ServerError: ${refusals}`,
    );
    assert.equal(await sendResult(service, 'pg-b', c2dMessage('after', { messageId: 'after-amqp' })), undefined);
    acknowledged.push('after-amqp');
    await waitFor(() => (acknowledged.every((m) => received.ids.has(m)) ? true : undefined), {
      timeoutMs: 60_000,
      what: `every acknowledged message received (missing: ${acknowledged.filter((m) => !received.ids.has(m))})`,
    });
    assert.deepEqual(drops, [], 'the device connections stayed up through the outage');
    t.diagnostic(`load: ${acknowledged.length} sends accepted, ${refusals.length} refused with 500 ServerError`);
  } finally {
    load = false;
    await loader;
    await Promise.all([service.close(), ...devices.map((d) => d.close())]);
  }

  async function outage(): Promise<void> {
    await pgctl('stop');
    // While the database is away, both nodes answer, and with the error IoT Hub uses for it.
    for (const [hub, device] of [
      [a, 'pg-a'],
      [b, 'pg-b'],
    ] as const) {
      const res = await sendRaw(hub, device, { messageId: `down-${device}` });
      assert.equal(res.status, 500, res.body.toString());
      assert.equal(res.headers['iothub-errorcode'], 'ServerError');
    }
    const amqpErr = await sendResult(service, 'pg-a', c2dMessage('x', { messageId: 'down-amqp' }));
    assert.equal(amqpErr?.name, 'InternalServerError', `AMQP send while the database is down: ${amqpErr}`);
    await pgctl('start');
    const before = acknowledged.length;
    await waitFor(() => (acknowledged.length >= before + 10 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'sends accepted again after the start',
    });
  }
});
