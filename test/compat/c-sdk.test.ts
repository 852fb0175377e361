/**
 * Issue 23: the Azure IoT C SDK's C2D sample (built for this machine, beside the repository at
 * ../shared/clients/azure-iot-c-sdk/c2d-sample; see its README) against a real hub over MQTT and
 * AMQP: it receives, completes, rejects and abandons, and the outcome is read from the feedback
 * and the queue.
 *
 * The C SDK refuses a HostName without a dot ("iotHubSuffix is not found"), so the hub also
 * answers to hub.ferry.test, which the sample resolves to the hub's loopback address through a
 * private hosts file bind-mounted over /etc/hosts in a mount namespace of its own (`unshare -m`,
 * as root): the machine's /etc/hosts is never touched.
 *
 * Over AMQP the sample offers SASL MSSBCBS only, puts a CBS token, and attaches its telemetry
 * sender and its twin links before its C2D receiver (any refused link is fatal to it).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { expectFeedback } from './helpers/feedback.js';
import { API, send } from './helpers/send.js';

const T = { timeout: 90_000 };
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLE = join(REPO, '..', 'shared', 'clients', 'azure-iot-c-sdk', 'c2d-sample');
const DOTTED = 'hub.ferry.test';
const DEVICE = 'c-sdk-1';

let hub: HubProcess;
let hostsFile: string;
let connectionString: string;

before(async () => {
  try {
    accessSync(SAMPLE, constants.X_OK);
  } catch {
    throw new Error(`the C SDK sample is not at ${SAMPLE} (it lives in shared/ beside the repository)`);
  }
  if (process.getuid?.() !== 0) throw new Error('the C SDK test runs the sample in a mount namespace: run it as root');
  // An abandoned AMQP message comes again at once: two deliveries, then it is dead-lettered.
  hub = await startHub({ hosts: [DOTTED], config: { feedback: { batchDelayMs: 0 }, c2d: { maxDeliveryCount: 2 } } });
  hostsFile = join(mkdtempSync(join(tmpdir(), 'ferry-c-sdk-')), 'hosts');
  writeFileSync(hostsFile, `127.0.0.1 localhost\n${hub.address} ${DOTTED}\n`);
  connectionString = (await hub.createDevice(DEVICE)).replace(`HostName=${hub.address};`, `HostName=${DOTTED};`);
});

after(async () => {
  await hub?.stop();
});

interface SampleRun {
  /** The RECEIVED lines, in order. */
  received: string[];
  output: string;
}

/** Runs the sample until it has `count` messages (or 10 s pass), settling each with `disposition`. */
function runSample(
  protocol: 'mqtt' | 'amqp',
  disposition: 'accept' | 'reject' | 'abandon',
  count = 1,
): Promise<SampleRun> {
  const args = [
    '-m',
    'sh',
    '-c',
    'mount --bind "$0" /etc/hosts && exec "$@"',
    hostsFile,
    SAMPLE,
    connectionString,
    protocol,
    hub.caFile,
    String(count),
    disposition,
    '10',
  ];
  return new Promise((resolve, reject) => {
    execFile('unshare', args, { timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (err) reject(new Error(`c2d-sample ${protocol} ${disposition} failed (${err.message}):\n${output}`));
      else resolve({ received: stdout.split('\n').filter((l) => l.startsWith('RECEIVED ')), output });
    });
  });
}

async function pending(): Promise<Array<{ messageId: string; state: string; deliveryCount: number }>> {
  const res = await hubRequest(hub, 'GET', `/devices/${DEVICE}/messages/deviceBound/pending?${API}`, {
    headers: { authorization: serviceSas(hub) },
  });
  assert.equal(res.status, 200);
  return JSON.parse(res.body.toString('utf8'));
}

test('ferry hub start warns about a host without a dot, not about dotted ones', T, async () => {
  assert.doesNotMatch(hub.output(), /has no dot/);
  const dotless = await startHub({ hosts: ['ferryhub'] });
  try {
    assert.match(dotless.output(), /host "ferryhub" has no dot; the Azure IoT C SDK .*iotHubSuffix is not found/);
  } finally {
    await dotless.stop();
  }
});

test('MQTT: the C SDK receives a message with its properties and completes it (Success feedback)', T, async () => {
  await send(hub, DEVICE, {
    messageId: 'c-accept',
    correlationId: 'corr-1',
    body: 'hello from ferry',
    ack: 'full',
    properties: { colour: 'blue' },
  });
  const run = await runSample('mqtt', 'accept');
  assert.match(run.output, /CONNECTION IOTHUB_CLIENT_CONNECTION_AUTHENTICATED/);
  assert.deepEqual(run.received, [
    'RECEIVED id=c-accept cid=corr-1 ct=- ce=- body=<hello from ferry> prop[colour]=blue',
  ]);
  await expectFeedback(hub, [{ originalMessageId: 'c-accept', deviceId: DEVICE, statusCode: 'Success' }]);
  assert.deepEqual(await pending(), []);
});

test('MQTT: a rejection by the C SDK is acknowledged all the same (MQTT has no reject): Success', T, async () => {
  await send(hub, DEVICE, { messageId: 'c-reject', body: 'reject me', ack: 'full' });
  const run = await runSample('mqtt', 'reject');
  assert.equal(run.received.length, 1, run.output);
  assert.match(run.received[0]!, /^RECEIVED id=c-reject /);
  await expectFeedback(hub, [{ originalMessageId: 'c-reject', deviceId: DEVICE, statusCode: 'Success' }]);
  assert.deepEqual(await pending(), []);
});

test('MQTT: an abandoned message stays queued and comes again on the next connection', T, async () => {
  await send(hub, DEVICE, { messageId: 'c-abandon', body: 'again', ack: 'full' });
  const first = await runSample('mqtt', 'abandon');
  assert.equal(first.received.length, 1, first.output);
  assert.match(first.received[0]!, /^RECEIVED id=c-abandon /);
  // Never acknowledged: the message went back when the connection ended.
  assert.deepEqual(
    (await pending()).map((m) => ({ messageId: m.messageId, state: m.state })),
    [{ messageId: 'c-abandon', state: 'Enqueued' }],
  );
  const second = await runSample('mqtt', 'accept');
  assert.deepEqual(
    second.received.map((l) => /^RECEIVED id=(\S+)/.exec(l)?.[1]),
    ['c-abandon'],
    second.output,
  );
  await expectFeedback(hub, [{ originalMessageId: 'c-abandon', deviceId: DEVICE, statusCode: 'Success' }]);
  assert.deepEqual(await pending(), []);
});

/** The message ids of a run's RECEIVED lines. */
const ids = (run: SampleRun) => run.received.map((l) => /^RECEIVED id=(\S+)/.exec(l)?.[1]);

test('AMQP (SASL MSSBCBS, CBS, telemetry and twin links first): receive and complete, Success', T, async () => {
  await send(hub, DEVICE, {
    messageId: 'c-amqp-accept',
    correlationId: 'corr-2',
    body: 'hello over amqp',
    ack: 'full',
    properties: { colour: 'green' },
  });
  const run = await runSample('amqp', 'accept');
  assert.match(run.output, /CONNECTION IOTHUB_CLIENT_CONNECTION_AUTHENTICATED/);
  assert.equal(run.received.length, 1, run.output);
  assert.match(
    run.received[0]!,
    /^RECEIVED id=c-amqp-accept cid=corr-2 ct=- ce=- body=<hello over amqp> .*prop\[colour\]=green/,
  );
  await expectFeedback(hub, [{ originalMessageId: 'c-amqp-accept', deviceId: DEVICE, statusCode: 'Success' }]);
  assert.deepEqual(await pending(), []);
});

test('AMQP: a rejected message is dead-lettered, Rejected feedback', T, async () => {
  await send(hub, DEVICE, { messageId: 'c-amqp-reject', body: 'no', ack: 'full' });
  const run = await runSample('amqp', 'reject');
  assert.deepEqual(ids(run), ['c-amqp-reject'], run.output);
  await expectFeedback(hub, [{ originalMessageId: 'c-amqp-reject', deviceId: DEVICE, statusCode: 'Rejected' }]);
  assert.deepEqual(await pending(), []);
});

test('AMQP: an abandoned message comes again at once, until maxDeliveryCount: DeliveryCountExceeded', T, async () => {
  await send(hub, DEVICE, { messageId: 'c-amqp-abandon', body: 'later', ack: 'full' });
  const run = await runSample('amqp', 'abandon');
  assert.deepEqual(ids(run), ['c-amqp-abandon', 'c-amqp-abandon'], run.output);
  await expectFeedback(hub, [
    { originalMessageId: 'c-amqp-abandon', deviceId: DEVICE, statusCode: 'DeliveryCountExceeded' },
  ]);
  assert.deepEqual(await pending(), []);
});
