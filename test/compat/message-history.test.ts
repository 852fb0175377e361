/**
 * Issue 27 item 4 against a real hub: the history of a message sent by the official service client
 * with ack full, abandoned twice by the official AMQP device client then completed, shows every
 * step in order with times, the sending policy, each delivery's protocol and lock token, and the
 * feedback record the back end received (docs/message-history.md). Bad input gets IoT Hub's codes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { annotation, c2dMessage, openAmqpDevice, openService, type Service, sendResult } from './amqp-helpers.js';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { putJob, waitJob } from './helpers/jobs.js';
import { API } from './helpers/send.js';

const T = { timeout: 90_000 };
let hub: HubProcess;
let svc: Service;

before(async () => {
  hub = await startHub({ config: { feedback: { batchDelayMs: 0 } } });
  svc = await openService(hub, 'Amqp');
});

after(async () => {
  await svc?.close();
  await hub?.stop();
});

interface Step {
  kind: string;
  timeUtc: string;
  deliveryCount: number;
  lockToken?: string;
  protocol?: string;
  policy?: string;
  jobId?: string;
  feedback?: { originalMessageId: string; statusCode: string; deviceId: string; enqueuedTimeUtc: string };
}

interface History {
  deviceId: string;
  messageId: string;
  copies: Array<{ sequenceNumber: number; ended: boolean; steps: Step[] }>;
}

async function history(deviceId: string, query: string) {
  const res = await hubRequest(hub, 'GET', `/devices/${deviceId}/messages/deviceBound/history?${query}&${API}`, {
    headers: { authorization: serviceSas(hub) },
  });
  return { status: res.status, headers: res.headers, json: JSON.parse(res.body.toString('utf8') || 'null') as unknown };
}

test(
  'sent with ack full, abandoned twice then completed over AMQP: every step in order, and its feedback record',
  T,
  async () => {
    const cs = await hub.createDevice('h1');
    const device = await openAmqpDevice(hub, cs, 'Amqp');
    const before = Date.now();
    try {
      assert.equal(await sendResult(svc, 'h1', c2dMessage('story', { messageId: 'story-1', ack: 'full' })), undefined);
      for (let i = 0; i < 2; i++) {
        const m = await device.inbox.next();
        assert.equal(annotation(m, 'iothub-deliverycount'), i);
        await device.client.abandon(m);
      }
      await device.client.complete(await device.inbox.next());
    } finally {
      await device.close();
    }
    const record = await svc.feedback.next(20_000, 'the feedback record');
    assert.deepEqual([record.originalMessageId, record.statusCode], ['story-1', 'Success']);

    const r = await history('h1', 'messageId=story-1');
    assert.equal(r.status, 200);
    const h = r.json as History;
    assert.deepEqual([h.deviceId, h.messageId, h.copies.length, h.copies[0]!.ended], ['h1', 'story-1', 1, true]);
    const steps = h.copies[0]!.steps;
    assert.deepEqual(
      steps.map((s) => [s.kind, s.deliveryCount, s.protocol]),
      [
        ['enqueued', 0, undefined],
        ['delivered', 0, 'amqp'],
        ['abandoned', 1, undefined],
        ['delivered', 1, 'amqp'],
        ['abandoned', 2, undefined],
        ['delivered', 2, 'amqp'],
        ['completed', 2, undefined],
      ],
    );
    assert.equal(steps[0]!.policy, 'iothubowner', 'sent with the owner policy');
    const tokens = steps.filter((s) => s.kind === 'delivered').map((s) => s.lockToken);
    assert.equal(new Set(tokens).size, 3, 'a new lock token for each delivery');
    const times = steps.map((s) => Date.parse(s.timeUtc));
    assert.ok(times[0]! >= before - 1000 && times[6]! <= Date.now() + 1000, 'times of this run');
    assert.deepEqual(
      [...times].sort((a, b) => a - b),
      times,
      'in order',
    );
    assert.deepEqual(
      { ...steps[6]!.feedback, enqueuedTimeUtc: undefined },
      { ...record, enqueuedTimeUtc: undefined },
      'the record the back end received',
    );
    const received = record as typeof record & { enqueuedTimeUtc: string };
    assert.equal(Date.parse(steps[6]!.feedback!.enqueuedTimeUtc), Date.parse(received.enqueuedTimeUtc));
  },
);

test('an unknown message id is an empty history; a missing one is 400004; an unknown device 404001', T, async () => {
  await hub.createDevice('h2');
  const none = await history('h2', 'messageId=never-sent');
  assert.equal(none.status, 200);
  assert.deepEqual((none.json as History).copies, []);
  const missing = await history('h2', 'top=1');
  assert.equal(missing.status, 400);
  assert.equal(missing.headers['iothub-errorcode'], 'ArgumentInvalid');
  const unknown = await history('nobody', 'messageId=x');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers['iothub-errorcode'], 'DeviceNotFound');
});

test("a C2D job's copy: the history's enqueued step names the job", T, async () => {
  await hub.createDevice('h3');
  await putJob(hub, 'history-job', {
    type: 'scheduleCloudToDeviceMessage',
    queryCondition: "deviceId = 'h3'",
    cloudToDeviceMessage: { body: Buffer.from('from a job').toString('base64'), messageId: 'from-job' },
  });
  await waitJob(hub, 'history-job');
  const h = (await history('h3', 'messageId=from-job')).json as History;
  assert.deepEqual(
    h.copies.map((c) => c.steps.map((s) => [s.kind, s.jobId])),
    [[['enqueued', 'history-job']]],
  );
});
