/**
 * @ferry/device and @ferry/service against a real hub process, over every transport: properties
 * that need escaping arrive intact, receive() times out to null, complete / abandon / reject give
 * the right feedback, purge and the registry work, and failures raise FerryErrors with IoT Hub's
 * error names.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEVICE_TRANSPORTS, DeviceClient, type DeviceTransportName, noRetry } from '@ferry/device';
import { ensureCa } from '@ferry/hub';
import { type FeedbackRecord, ServiceClient } from '@ferry/service';
import { type HubProcess, startHub } from './harness.js';

const T = { timeout: 60_000 };
const PROPERTIES = { 'a b': 'x & y = z / + %', zone: 'Zürich ✓', empty: '' };

let hub: HubProcess;
let ca: string;
let service: ServiceClient;
/** A CA that did not sign the hub's certificate. */
let otherCa: string;
const records = new Map<string, FeedbackRecord>();
const recordWaiters = new Map<string, (r: FeedbackRecord) => void>();

/** The feedback record of a message; one consumer completes every batch as it comes. */
function feedbackFor(messageId: string): Promise<FeedbackRecord> {
  const r = records.get(messageId);
  if (r) return Promise.resolve(r);
  return new Promise((resolve) => recordWaiters.set(messageId, resolve));
}

async function consumeFeedback(): Promise<void> {
  for await (const batch of service.feedback()) {
    for (const r of batch.records) {
      records.set(r.originalMessageId, r);
      recordWaiters.get(r.originalMessageId)?.(r);
    }
    await batch.complete();
  }
}

function device(cs: string, transport: DeviceTransportName): DeviceClient {
  return DeviceClient.fromConnectionString(cs, { transport, ca });
}

/** HTTPS receive() asks once; ask until the message is there. */
async function receiveSoon(client: DeviceClient) {
  for (let i = 0; i < 100; i++) {
    const m = await client.receive({ timeoutMs: 20_000 });
    if (m) return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no message');
}

function errorName(name: string) {
  return (e: unknown) => {
    assert.equal((e as { errorName?: string }).errorName, name, String(e));
    return true;
  };
}

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 }, c2d: { maxQueueDepth: 5, maxMessageSize: 4096 } } });
  ca = readFileSync(hub.caFile, 'utf8');
  otherCa = readFileSync(ensureCa(mkdtempSync(join(tmpdir(), 'ferry-other-ca-'))).caFile, 'utf8');
  service = ServiceClient.fromConnectionString(hub.ownerConnectionString, { ca });
  void consumeFeedback();
});

after(async () => {
  await service?.close();
  await hub?.stop();
});

describe('every device transport', () => {
  for (const transport of DEVICE_TRANSPORTS) {
    test(`${transport}: all properties intact, complete gives Success`, T, async () => {
      const cs = await hub.createDevice(`sdk-${transport}`);
      const client = device(cs, transport);
      try {
        await client.open();
        const expiry = new Date(Date.now() + 600_000);
        const { messageId } = await service.send(`sdk-${transport}`, {
          body: Buffer.from([0, 1, 2, 255]),
          ack: 'full',
          correlationId: 'corr 1/2',
          contentType: 'application/octet-stream',
          contentEncoding: 'binary',
          expiry,
          properties: PROPERTIES,
        });
        const m = await receiveSoon(client);
        assert.equal(m.messageId, messageId);
        assert.equal(m.correlationId, 'corr 1/2');
        assert.deepEqual(m.body, Buffer.from([0, 1, 2, 255]));
        assert.equal(m.contentType, 'application/octet-stream');
        assert.equal(m.contentEncoding, 'binary');
        assert.equal(m.ack, 'full');
        assert.equal(m.expiryTimeUtc, expiry.getTime());
        assert.deepEqual(m.properties, PROPERTIES);
        await client.complete(m);
        assert.equal((await feedbackFor(messageId)).statusCode, 'Success');
        const none = await client.receive({ timeoutMs: 300 });
        assert.equal(none, null, 'receive() gives null when nothing comes within its time-out');
      } finally {
        await client.close();
      }
    });
  }

  for (const transport of ['amqp', 'amqp-ws', 'https'] as const) {
    test(`${transport}: abandon delivers again with a higher count, reject gives Rejected`, T, async () => {
      const id = `sdk-settle-${transport}`;
      const cs = await hub.createDevice(id);
      const client = device(cs, transport);
      try {
        const { messageId } = await service.send(id, { body: 'settle me', ack: 'full' });
        const first = await receiveSoon(client);
        await client.abandon(first);
        const again = await receiveSoon(client);
        assert.equal(again.messageId, messageId);
        assert.equal(again.deliveryCount, (first.deliveryCount ?? 0) + 1);
        await client.reject(again);
        assert.equal((await feedbackFor(messageId)).statusCode, 'Rejected');
      } finally {
        await client.close();
      }
    });
  }

  test('mqtt: abandon and reject say MQTT does not support them', T, async () => {
    const cs = await hub.createDevice('sdk-mqtt-no-abandon');
    const client = device(cs, 'mqtt');
    try {
      await service.send('sdk-mqtt-no-abandon', { body: 'x' });
      const m = await receiveSoon(client);
      await assert.rejects(client.abandon(m), /MQTT does not support abandoning/);
      await assert.rejects(client.reject(m), errorName('NotImplemented'));
      await client.complete(m);
    } finally {
      await client.close();
    }
  });

  test('message handler and messages() iterator', T, async () => {
    const cs = await hub.createDevice('sdk-handler');
    const client = device(cs, 'amqp');
    try {
      const got: string[] = [];
      const done = new Promise<void>((resolve) => {
        client.setMessageHandler(async (m) => {
          got.push(m.body.toString());
          await client.complete(m);
          if (got.length === 2) resolve();
        });
      });
      await service.send('sdk-handler', { body: 'one' });
      await service.send('sdk-handler', { body: 'two' });
      await done;
      assert.deepEqual(got, ['one', 'two']);
      client.setMessageHandler(null);
      await service.send('sdk-handler', { body: 'three' });
      for await (const m of client.messages()) {
        assert.equal(m.body.toString(), 'three');
        await client.complete(m);
        break;
      }
    } finally {
      await client.close();
    }
  });
});

describe('service operations', () => {
  test('amqp-ws send, purge', T, async () => {
    await hub.createDevice('sdk-purge');
    const ws = ServiceClient.fromConnectionString(hub.ownerConnectionString, { ca, transport: 'amqp-ws' });
    try {
      await ws.send('sdk-purge', { body: 'a' });
      await ws.send('sdk-purge', { body: 'b', ttlMs: 60_000 });
    } finally {
      await ws.close();
    }
    assert.deepEqual(await service.purgeMessageQueue('sdk-purge'), { deviceId: 'sdk-purge', totalMessagesPurged: 2 });
  });

  test('registry create, get, list, update, statistics, delete', T, async () => {
    const { registry } = service;
    const created = await registry.create({ deviceId: 'sdk-reg:1+x', status: 'disabled' });
    assert.equal(created.status, 'disabled');
    assert.ok(created.authentication.symmetricKey.primaryKey);
    assert.equal((await registry.get('sdk-reg:1+x')).deviceId, 'sdk-reg:1+x');
    assert.ok((await registry.list()).some((d) => d.deviceId === 'sdk-reg:1+x'));
    const updated = await registry.update({ deviceId: 'sdk-reg:1+x', status: 'enabled' });
    assert.equal(updated.status, 'enabled');
    assert.equal(updated.authentication.symmetricKey.primaryKey, created.authentication.symmetricKey.primaryKey);
    const stats = await registry.statistics();
    assert.ok(stats.totalDeviceCount >= 1);
    await assert.rejects(registry.create('sdk-reg:1+x'), errorName('DeviceAlreadyExists'));
    await registry.delete('sdk-reg:1+x');
    await assert.rejects(registry.get('sdk-reg:1+x'), errorName('DeviceNotFound'));
  });
});

describe('errors are typed, with IoT Hub names', () => {
  test('unknown device, queue full, too large', T, async () => {
    await assert.rejects(service.send('sdk-nobody', { body: 'x' }), errorName('DeviceNotFound'));
    await hub.createDevice('sdk-full');
    for (let i = 0; i < 5; i++) await service.send('sdk-full', { body: String(i) });
    await assert.rejects(
      service.send('sdk-full', { body: 'one too many' }),
      errorName('DeviceMaximumQueueDepthExceeded'),
    );
    await hub.createDevice('sdk-large');
    await assert.rejects(service.send('sdk-large', { body: Buffer.alloc(5000) }), errorName('MessageTooLarge'));
  });

  for (const transport of DEVICE_TRANSPORTS) {
    test(`${transport}: a wrong device key is IotHubUnauthorizedAccess, raised without retrying`, T, async () => {
      const cs = await hub.createDevice(`sdk-key-${transport}`);
      const wrong = cs.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
      const client = device(wrong, transport);
      try {
        await assert.rejects(client.receive({ timeoutMs: 1000 }), errorName('IotHubUnauthorizedAccess'));
      } finally {
        await client.close();
      }
    });
  }

  test('a wrong service key is IotHubUnauthorizedAccess', T, async () => {
    const wrong = hub.ownerConnectionString.replace(
      /SharedAccessKey=[^;]+/,
      `SharedAccessKey=${Buffer.alloc(32, 9).toString('base64')}`,
    );
    const bad = ServiceClient.fromConnectionString(wrong, { ca, retry: noRetry });
    try {
      await assert.rejects(bad.send('sdk-nobody', { body: 'x' }), errorName('IotHubUnauthorizedAccess'));
      await assert.rejects(bad.registry.list(), errorName('IotHubUnauthorizedAccess'));
    } finally {
      await bad.close();
    }
  });

  for (const transport of DEVICE_TRANSPORTS) {
    test(`${transport}: the ca option is what is trusted: another CA fails at once, naming the cause`, T, async () => {
      const cs = await hub.createDevice(`sdk-ca-${transport}`);
      const client = DeviceClient.fromConnectionString(cs, { transport, ca: otherCa });
      try {
        await assert.rejects(client.receive({ timeoutMs: 1000 }), /not trusted/);
      } finally {
        await client.close();
      }
    });
  }

  test('options are checked by name', () => {
    const cs = 'HostName=h;DeviceId=d;SharedAccessKey=AAAA';
    assert.throws(
      () => DeviceClient.fromConnectionString(cs, { transport: 'carrier-pigeon' as never }),
      /transport must be one of/,
    );
    assert.throws(
      () => DeviceClient.fromConnectionString(cs, { cA: 'x' } as never),
      /Unknown DeviceClient option "cA"/,
    );
    assert.throws(
      () => ServiceClient.fromConnectionString(hub.ownerConnectionString, { transport: 'mqtt' as never }),
      /transport must be one of amqp, amqp-ws/,
    );
  });
});
