/**
 * @ferry/device's telemetry, twins and direct methods against a real hub process, with
 * @ferry/service as the back end: sendEvent resolves once the hub has the event (it is in the
 * event log with its properties), the hub's refusals arrive as FerryErrors with IoT Hub's codes,
 * reported and desired properties flow both ways, a device that was away converges on the whole
 * desired document, and invokeMethod gets the device's answer or DeviceNotOnline / GatewayTimeout.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { DEVICE_TRANSPORTS, type DesiredUpdate, DeviceClient, type DeviceTransportName, noRetry } from '@ferry/device';
import { ServiceClient } from '@ferry/service';
import { type HubProcess, startHub } from './harness.js';
import { eventsOnDisk } from './helpers/telemetry.js';
import { waitFor } from './helpers/wait.js';

const T = { timeout: 90_000 };
const PUSH_TRANSPORTS = DEVICE_TRANSPORTS.filter((t) => t !== 'https');

/** Waits until `cond` holds (the hub pushes asynchronously). */
function until(cond: () => boolean, what: string): Promise<true> {
  return waitFor(() => cond() || undefined, { what, timeoutMs: 30_000 });
}

function errorName(name: string) {
  return (e: unknown) => {
    assert.equal((e as { errorName?: string }).errorName, name, String(e));
    return true;
  };
}

function device(hub: HubProcess, cs: string, transport: DeviceTransportName, retry = noRetry): DeviceClient {
  return DeviceClient.fromConnectionString(cs, { transport, ca: readFileSync(hub.caFile, 'utf8'), retry });
}

describe('telemetry', () => {
  let hub: HubProcess;
  before(async () => {
    hub = await startHub();
  });
  after(async () => {
    await hub?.stop();
  });

  test(
    'every transport: sendEvent and sendEventBatch resolve once the events are in the log; too large is MessageTooLarge',
    T,
    async () => {
      for (const transport of DEVICE_TRANSPORTS) {
        const client = device(hub, await hub.createDevice(`tel-${transport}`), transport);
        try {
          await client.sendEvent({
            body: JSON.stringify({ n: 0 }),
            messageId: `${transport}-0`,
            correlationId: 'corr 1/2',
            contentType: 'application/json',
            contentEncoding: 'utf-8',
            properties: { temperature: '21.5', 'odd name&=': 'a b/c+d%' },
          });
          await client.sendEventBatch([
            { body: 'one', properties: { i: '1' } },
            { body: Buffer.from('two'), properties: { i: '2' } },
          ]);
          await assert.rejects(client.sendEvent({ body: Buffer.alloc(300 * 1024) }), errorName('MessageTooLarge'));
          // The refusal left the connection usable.
          await client.sendEvent({ body: 'after' });
          if (transport === 'https') {
            await assert.rejects(
              client.sendEventBatch([{ body: 'a', messageId: 'x' }, { body: 'b' }]),
              errorName('ArgumentInvalid'),
            );
          }
        } finally {
          await client.close();
        }
      }
      await hub.stop();
      const events = await eventsOnDisk(hub.dataDir);
      for (const transport of DEVICE_TRANSPORTS) {
        const mine = events
          .filter((e) => e.deviceId === `tel-${transport}`)
          .sort((a, b) => a.sequenceNumber - b.sequenceNumber);
        assert.deepEqual(
          mine.map((e) => e.body),
          ['{"n":0}', 'one', 'two', 'after'],
          `${transport}: the events in the order sent`,
        );
        const first = mine[0]!;
        assert.equal(first.system['message-id'], `${transport}-0`, transport);
        assert.equal(first.system['correlation-id'], 'corr 1/2', transport);
        assert.equal(first.system['content-type'], 'application/json', transport);
        assert.equal(first.properties.temperature, '21.5', transport);
        assert.equal(first.properties['odd name&='], 'a b/c+d%', transport);
        assert.equal(mine[2]!.properties.i, '2', transport);
      }
    },
  );
});

describe('twins and methods', () => {
  let hub: HubProcess;
  let service: ServiceClient;
  before(async () => {
    hub = await startHub();
    service = ServiceClient.fromConnectionString(hub.ownerConnectionString, { ca: readFileSync(hub.caFile, 'utf8') });
  });
  after(async () => {
    await service?.close();
    await hub?.stop();
  });

  for (const transport of PUSH_TRANSPORTS) {
    test(
      `${transport}: reported and desired properties both ways; after being away the device converges`,
      T,
      async () => {
        const id = `twin-${transport}`;
        const cs = await hub.createDevice(id);
        await service.registry.updateTwin(id, { properties: { desired: { rate: 1 } } });
        // Retries whatever the error, so it keeps trying while the device is disabled below.
        const client = device(hub, cs, transport, { nextDelayMs: () => 200 });
        const updates: DesiredUpdate[] = [];
        try {
          const version = await client.updateReportedProperties({ fw: '1.0', nested: { a: 1 } });
          assert.ok(version >= 1);
          const twin = await client.getTwin();
          assert.equal(twin.desired.rate, 1);
          assert.equal(twin.reported.fw, '1.0');
          assert.equal((await service.registry.getTwin(id)).properties.reported.fw, '1.0');

          await client.onDesiredPropertiesUpdate((u) => {
            updates.push(u);
          });
          await until(() => updates.length >= 1, 'the whole desired document first');
          assert.equal(updates[0]!.full, true);
          assert.equal(updates[0]!.properties.rate, 1);

          const patched = await service.registry.updateTwin(id, { properties: { desired: { rate: 2 } } });
          await until(() => updates.length >= 2, 'the desired patch');
          assert.deepEqual(
            { ...updates[1]!, properties: { rate: updates[1]!.properties.rate } },
            {
              version: patched.properties.desired.$version,
              properties: { rate: 2 },
              full: false,
            },
          );

          // Away: disabling the device cuts its connection and refuses its reconnects.
          const reconnecting = new Promise((resolve) => client.on('state', (s) => s === 'reconnecting' && resolve(s)));
          await service.registry.update({ deviceId: id, status: 'disabled' });
          await reconnecting;
          const missed = await service.registry.updateTwin(id, { properties: { desired: { rate: 3 } } });
          await service.registry.update({ deviceId: id, status: 'enabled' });
          await until(
            () => updates.some((u) => u.full && u.properties.rate === 3),
            'the whole desired document after the reconnect',
          );
          const last = updates.at(-1)!;
          assert.equal(last.version, missed.properties.desired.$version);
          // The desired subscription came back with the connection.
          await service.registry.updateTwin(id, { properties: { desired: { rate: 4 } } });
          await until(() => updates.some((u) => !u.full && u.properties.rate === 4), 'a patch after the reconnect');
          await assert.rejects(client.updateReportedProperties({ $bad: 1 }), errorName('ArgumentInvalid'));
        } finally {
          await client.close();
        }
      },
    );

    test(`${transport}: onMethod answers invokeMethod; no handler is 501; offline is DeviceNotOnline`, T, async () => {
      const id = `method-${transport}`;
      const client = device(hub, await hub.createDevice(id), transport);
      try {
        await client.onMethod('echo', (request) => ({
          status: 201,
          payload: { got: request.payload, name: request.methodName },
        }));
        await client.onMethod('fail', () => {
          throw new Error('no can do');
        });
        const payload = { s: 'é"\\', n: [1, 2.5, null] };
        assert.deepEqual(
          await service.invokeMethod(id, { methodName: 'echo', payload, responseTimeoutInSeconds: 10 }),
          {
            status: 201,
            payload: { got: payload, name: 'echo' },
          },
        );
        const missing = await service.invokeMethod(id, { methodName: 'nothing' });
        assert.equal(missing.status, 501);
        const failed = await service.invokeMethod(id, { methodName: 'fail' });
        assert.deepEqual(failed, { status: 500, payload: { message: 'no can do' } });
      } finally {
        await client.close();
      }
      await assert.rejects(service.invokeMethod(id, { methodName: 'echo' }), errorName('DeviceNotOnline'));
    });
  }

  test('a handler that does not answer in time is GatewayTimeout (504101)', T, async () => {
    const id = 'method-slow';
    const client = device(hub, await hub.createDevice(id), 'mqtt');
    try {
      await client.onMethod('slow', () => new Promise(() => undefined));
      await assert.rejects(
        service.invokeMethod(id, { methodName: 'slow', responseTimeoutInSeconds: 5 }),
        (e: unknown) => {
          assert.equal((e as { code?: number }).code, 504101);
          return true;
        },
      );
    } finally {
      await client.close();
    }
  });

  test(
    'https: twins and methods are refused with NotImplemented, naming the transports that have them',
    T,
    async () => {
      const client = device(hub, await hub.createDevice('twin-https'), 'https');
      try {
        await assert.rejects(client.getTwin(), (e: unknown) => {
          assert.equal((e as { errorName?: string }).errorName, 'NotImplemented');
          assert.match(String(e), /mqtt/);
          return true;
        });
        await assert.rejects(
          client.onMethod('x', () => ({ status: 200 })),
          errorName('NotImplemented'),
        );
        await assert.rejects(
          client.onDesiredPropertiesUpdate(() => undefined),
          errorName('NotImplemented'),
        );
      } finally {
        await client.close();
      }
    },
  );
});
