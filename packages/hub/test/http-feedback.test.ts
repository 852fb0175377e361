import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FeedbackRecord } from '@ferry/common';
import { API, type HttpHarness, type HttpResponse, startHttpHarness } from './http-harness.js';

let h: HttpHarness;
before(async () => {
  // Batches of up to 3 records, or 15 s after the last batch.
  h = await startHttpHarness({ feedback: { batchMaxRecords: 3, batchDelayMs: 15_000, lockDurationMs: 30_000 } });
  await h.createDevice('fb1');
});
after(async () => {
  await h.close();
});

const service = () => ({ authorization: h.serviceToken('service') });
const getFeedback = (path = '/messages/serviceBound/feedback') =>
  h.request('GET', `${path}?${API}`, { headers: service() });
const lockOf = (res: HttpResponse) => (res.headers.etag as string).slice(1, -1);

async function deliverAndComplete(messageId: string): Promise<void> {
  await h.engine.send('fb1', { body: Buffer.from('x'), messageId, ack: 'full' });
  const [d] = await h.engine.receive('fb1');
  assert.ok(d);
  await h.engine.complete('fb1', d.lockToken);
}

describe('feedback over HTTP', () => {
  test('204 when nothing is ready; a full batch is served with the feedback headers and JSON records', async () => {
    assert.equal((await getFeedback()).status, 204);
    // No batch was made in the last 15 s, so the first record goes out at once.
    await deliverAndComplete('f0');
    await h.engine.idle();
    const first = await getFeedback();
    assert.deepEqual(
      (first.json() as FeedbackRecord[]).map((r) => r.originalMessageId),
      ['f0'],
    );
    await h.request('DELETE', `/messages/serviceBound/feedback/${lockOf(first)}?${API}`, { headers: service() });
    // Now 3 records (batchMaxRecords) make a batch without waiting.
    for (const id of ['f1', 'f2', 'f3']) await deliverAndComplete(id);
    await h.engine.idle();
    const res = await getFeedback();
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/vnd.microsoft.iothub.feedback.json');
    assert.match(lockOf(res), /^[0-9a-f-]{36}$/);
    assert.equal(res.headers['iothub-userid'], 'localhost');
    assert.equal(res.headers['iothub-deliverycount'], '0');
    assert.equal(res.headers['iothub-enqueuedtime'], new Date(h.clock.now()).toISOString());
    const records = res.json() as FeedbackRecord[];
    assert.deepEqual(
      records.map((r) => r.originalMessageId),
      ['f1', 'f2', 'f3'],
    );
    const identity = await h.registry.identity('fb1');
    for (const r of records) {
      assert.deepEqual(Object.keys(r).sort(), [
        'description',
        'deviceGenerationId',
        'deviceId',
        'enqueuedTimeUtc',
        'originalMessageId',
        'statusCode',
      ]);
      assert.equal(r.statusCode, 'Success');
      assert.equal(r.deviceId, 'fb1');
      assert.equal(r.deviceGenerationId, identity?.generationId);
    }
    // Locked: a second receiver gets nothing.
    assert.equal((await getFeedback('/messages/servicebound/feedback')).status, 204);
    const done = await h.request('DELETE', `/messages/serviceBound/feedback/${lockOf(res)}?${API}`, {
      headers: service(),
    });
    assert.equal(done.status, 204);
    const again = await h.request('DELETE', `/messages/serviceBound/feedback/${lockOf(res)}?${API}`, {
      headers: service(),
    });
    assert.equal(again.status, 412);
    assert.equal(again.headers['iothub-errorcode'], 'DeviceMessageLockLost');
  });

  test('a partial batch waits for the batch delay', async () => {
    await deliverAndComplete('late-1');
    assert.equal((await getFeedback()).status, 204);
    await h.advance(15_000);
    const res = await getFeedback();
    assert.equal(res.status, 200);
    assert.deepEqual(
      (res.json() as FeedbackRecord[]).map((r) => r.originalMessageId),
      ['late-1'],
    );
    // Abandon: back in the queue with a higher delivery count.
    const ab = await h.request('POST', `/messages/serviceBound/feedback/${lockOf(res)}/abandon?${API}`, {
      headers: service(),
      body: '',
    });
    assert.equal(ab.status, 204);
    const second = await getFeedback('/MESSAGES/SERVICEBOUND/FEEDBACK');
    assert.equal(second.status, 200);
    assert.equal(second.headers['iothub-deliverycount'], '1');
    // A lock that expired cannot be settled.
    await h.advance(30_001);
    const late = await h.request('DELETE', `/messages/serviceBound/feedback/${lockOf(second)}?${API}`, {
      headers: service(),
    });
    assert.equal(late.status, 412);
    const third = await getFeedback();
    assert.equal(third.status, 200);
    const rej = await h.request('DELETE', `/messages/serviceBound/feedback/${lockOf(third)}?reject&${API}`, {
      headers: service(),
    });
    assert.equal(rej.status, 204);
    assert.equal((await getFeedback()).status, 204);
  });

  test('it needs ServiceConnect', async () => {
    for (const authorization of [
      await h.deviceToken('fb1'),
      h.serviceToken('registryReadWrite'),
      h.serviceToken('device'),
    ]) {
      const res = await h.request('GET', `/messages/serviceBound/feedback?${API}`, { headers: { authorization } });
      assert.equal(res.status, 401);
      assert.equal(res.headers['iothub-errorcode'], 'IotHubUnauthorizedAccess');
    }
    const unknown = await h.request('POST', `/messages/serviceBound/feedback/no-such-lock/abandon?${API}`, {
      headers: service(),
    });
    assert.equal(unknown.status, 412);
  });
});
