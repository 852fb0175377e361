/**
 * X.509 on two nodes of one hub (PostgreSQL): a CA verified through node A becomes a trust anchor
 * of node B's TLS listeners, and deleting it through node A cuts the devices connected to node B
 * through it (the cluster signal makes B read the verified CAs again), official clients throughout.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import common from 'azure-iot-common';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { makeCertificate, withChain } from './helpers/chains.js';
import { clusterStore, dropSchema } from './helpers/postgres.js';
import { send } from './helpers/send.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { certificatesCall, openX509Device, refusal, uploadAndVerifyCa, type X509Device } from './helpers/x509.js';

const T = { timeout: 90_000 };
const store = clusterStore('x509');
let a: HubProcess;
let b: HubProcess;
let failed = false;

before(async () => {
  [a, b] = await Promise.all([startHub({ store }), startHub({ store })]);
});

afterEach((t) => {
  if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (!failed) await dropSchema(store.schema);
});

function cutOff(device: X509Device): Promise<unknown> {
  device.client.setRetryPolicy(new common.NoRetry());
  return new Promise((resolve) => {
    device.client.once('disconnect', resolve);
    device.client.once('error', resolve);
  });
}

test('a CA verified on node A lets node B accept its devices; deleted on A, it cuts them on B', T, async () => {
  const root = makeCertificate({ commonName: 'Cluster root', ca: {} });
  const intermediate = makeCertificate({ commonName: 'Cluster intermediate', issuer: root, ca: {} });
  await uploadAndVerifyCa(a, 'cluster-root', root);
  const registry = iothub.Registry.fromConnectionString(a.ownerConnectionString);
  const certs = new Map<string, ReturnType<typeof withChain>>();
  for (const id of ['cluster-mqtt', 'cluster-amqp']) {
    await registry.create({
      deviceId: id,
      authentication: { type: 'certificateAuthority' },
    } as iothub.Registry.DeviceDescription);
    certs.set(id, withChain(makeCertificate({ commonName: id, issuer: intermediate }), intermediate));
  }

  // Node B learns of the CA from A's signal (or, had it been missed, from the first refused attempt).
  const mqtt = await waitFor(
    () => openX509Device(b, 'cluster-mqtt', certs.get('cluster-mqtt')!, 'Mqtt').catch(() => undefined),
    { timeoutMs: 15_000, intervalMs: 200, what: "node B to accept a device of node A's new CA" },
  );
  const amqp = await openX509Device(b, 'cluster-amqp', certs.get('cluster-amqp')!, 'Amqp');
  try {
    await send(a, 'cluster-mqtt', { messageId: 'via-a', body: 'x' });
    assert.equal((await mqtt.next(20_000)).messageId, 'via-a');
    const mqttCut = cutOff(mqtt);
    const amqpCut = cutOff(amqp);

    await certificatesCall(a, 'DELETE', '/cluster-root', undefined, 204);
    await withTimeout(mqttCut, 15_000, "node B's MQTT device cut off after the CA was deleted on node A");
    const why = (await withTimeout(amqpCut, 15_000, "node B's AMQP device cut off")) as { transportObj?: Error };
    assert.equal(why.transportObj?.name, 'UnauthorizedError');
    const err = await refusal(b, 'cluster-mqtt', certs.get('cluster-mqtt')!, 'Mqtt');
    assert.equal(err?.constructor.name, 'UnauthorizedError', `a new connection to node B: ${err?.message}`);
  } finally {
    await Promise.all([mqtt.close(), amqp.close()]);
  }
});
