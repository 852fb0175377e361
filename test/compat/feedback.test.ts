/**
 * Feedback over HTTPS (c2d-semantics.md 3, 7.4): one record per outcome in Azure's shape, batched as
 * configured (batchMaxRecords / batchDelayMs), locked while received, back after abandon or lock expiry,
 * gone after complete; the ack value decides which outcomes leave a record.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { deviceSas, serviceSas } from './helpers/auth.js';
import { receive, type Settlement, settle } from './helpers/device-raw.js';
import {
  abandonFeedbackRaw,
  assertRecord,
  completeFeedback,
  completeFeedbackRaw,
  expectFeedback,
  FEEDBACK_CONTENT_TYPE,
  receiveFeedback,
  receiveFeedbackRaw,
  waitForFeedback,
} from './helpers/feedback.js';
import { assertHubError } from './helpers/hub-error.js';
import { send } from './helpers/send.js';

const T = { timeout: 30_000 };

/** Sends one message and settles it on the device side with raw HTTPS; returns its message id. */
async function outcome(
  hub: HubProcess,
  cs: string,
  deviceId: string,
  messageId: string,
  ack: string,
  how: Settlement,
): Promise<void> {
  await send(hub, deviceId, { body: messageId, messageId, ack });
  const m = await receive(hub, cs);
  assert.equal(m?.headers['iothub-messageid'], messageId);
  await settle(hub, cs, how, m!.lockToken);
}

describe('batched feedback (batchMaxRecords 3, long batchDelayMs)', () => {
  let hub: HubProcess;
  let cs: string;
  let generationId: string;

  before(async () => {
    hub = await startHub({ config: { feedback: { batchMaxRecords: 3, batchDelayMs: 600_000 } } });
    cs = await hub.createDevice('fb-batch');
    const registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
    generationId = (await registry.get('fb-batch')).responseBody.generationId ?? '';
  });

  after(async () => {
    await hub?.stop();
  });

  test('three outcomes give one batch of three records in Azure shape', T, async () => {
    // The delay counts from the last batch sent, so the first record after a quiet period goes at once.
    await outcome(hub, cs, 'fb-batch', 'b0-first', 'full', 'complete');
    const opening = await waitForFeedback(hub);
    assert.deepEqual(
      opening.records.map((r) => r.originalMessageId),
      ['b0-first'],
    );
    await completeFeedback(hub, opening.lockToken);

    await outcome(hub, cs, 'fb-batch', 'b1-ok', 'full', 'complete');
    await outcome(hub, cs, 'fb-batch', 'b1-rej', 'full', 'reject');
    assert.equal(await receiveFeedback(hub), undefined, 'two records do not make a batch yet');
    await outcome(hub, cs, 'fb-batch', 'b1-ok2', 'full', 'complete');

    const batch = await waitForFeedback(hub);
    assert.ok(
      String(batch.headers['content-type']).startsWith(FEEDBACK_CONTENT_TYPE),
      `content-type ${batch.headers['content-type']}`,
    );
    assert.equal(batch.records.length, 3, JSON.stringify(batch.records));
    const byId = new Map(batch.records.map((r) => [r.originalMessageId, r]));
    const common = { deviceId: 'fb-batch', deviceGenerationId: generationId };
    assertRecord(byId.get('b1-ok')!, { ...common, statusCode: 'Success', description: 'Success' });
    assertRecord(byId.get('b1-rej')!, { ...common, statusCode: 'Rejected' });
    assertRecord(byId.get('b1-ok2')!, { ...common, statusCode: 'Success', description: 'Success' });

    await completeFeedback(hub, batch.lockToken);
    assert.equal(await receiveFeedback(hub), undefined, 'a completed batch is gone');
  });

  test('a locked batch is hidden from a second receiver; abandon brings it back; complete removes it', T, async () => {
    for (const id of ['b2-a', 'b2-b', 'b2-c']) await outcome(hub, cs, 'fb-batch', id, 'full', 'complete');
    const first = await waitForFeedback(hub);
    const ids = first.records.map((r) => r.originalMessageId).sort();
    assert.deepEqual(ids, ['b2-a', 'b2-b', 'b2-c']);
    assert.equal(await receiveFeedback(hub), undefined, 'the only batch is locked by the first receiver');

    const abandoned = await abandonFeedbackRaw(hub, first.lockToken);
    assert.equal(abandoned.status, 204, abandoned.body.toString());
    const again = await waitForFeedback(hub);
    assert.deepEqual(again.records.map((r) => r.originalMessageId).sort(), ids);
    assert.notEqual(again.lockToken, first.lockToken, 'a new delivery gets a new lock token');
    assertHubError(
      await completeFeedbackRaw(hub, first.lockToken),
      412,
      'DeviceMessageLockLost',
      'complete with the abandoned lock',
    );

    await completeFeedback(hub, again.lockToken);
    assert.equal(await receiveFeedback(hub), undefined);
  });

  test('feedback needs ServiceConnect: registryRead and device tokens are refused', T, async () => {
    assertHubError(
      await receiveFeedbackRaw(hub, serviceSas(hub, 'registryRead')),
      401,
      'IotHubUnauthorizedAccess',
      'registryRead',
    );
    assertHubError(await receiveFeedbackRaw(hub, deviceSas(cs)), 401, 'IotHubUnauthorizedAccess', 'device token');
    assert.equal(
      (await receiveFeedbackRaw(hub, serviceSas(hub, 'iothubowner'))).status,
      204,
      'iothubowner has ServiceConnect',
    );
  });
});

describe('delayed feedback (batchDelayMs 1500)', () => {
  let hub: HubProcess;
  let cs: string;

  before(async () => {
    hub = await startHub({ config: { feedback: { batchMaxRecords: 64, batchDelayMs: 1500 } } });
    cs = await hub.createDevice('fb-delay');
  });

  after(async () => {
    await hub?.stop();
  });

  test('records that arrive within the delay leave together in one batch when it passes', T, async () => {
    await outcome(hub, cs, 'fb-delay', 'd0-first', 'full', 'complete');
    const opening = await waitForFeedback(hub);
    await completeFeedback(hub, opening.lockToken);
    await outcome(hub, cs, 'fb-delay', 'd1-ok', 'full', 'complete');
    await outcome(hub, cs, 'fb-delay', 'd1-rej', 'full', 'reject');
    const batch = await waitForFeedback(hub, { timeoutMs: 10_000 });
    assert.deepEqual(batch.records.map((r) => r.originalMessageId).sort(), ['d1-ok', 'd1-rej']);
    await completeFeedback(hub, batch.lockToken);
  });
});

describe('immediate feedback (batchDelayMs 0, short feedback lock)', () => {
  let hub: HubProcess;
  let cs: string;

  before(async () => {
    hub = await startHub({ config: { feedback: { batchDelayMs: 0, lockDurationMs: 1000 } } });
    cs = await hub.createDevice('fb-now');
  });

  after(async () => {
    await hub?.stop();
  });

  test('one outcome is a batch of one at once', T, async () => {
    await outcome(hub, cs, 'fb-now', 'now-1', 'full', 'complete');
    const batch = await waitForFeedback(hub, { timeoutMs: 5000 });
    assert.equal(batch.records.length, 1);
    assertRecord(batch.records[0]!, { originalMessageId: 'now-1', deviceId: 'fb-now', statusCode: 'Success' });
    await completeFeedback(hub, batch.lockToken);
  });

  test('ack decides: positive on success only, negative on failure only, none never', T, async () => {
    await outcome(hub, cs, 'fb-now', 'pos-ok', 'positive', 'complete');
    await outcome(hub, cs, 'fb-now', 'pos-rej', 'positive', 'reject');
    await outcome(hub, cs, 'fb-now', 'neg-ok', 'negative', 'complete');
    await outcome(hub, cs, 'fb-now', 'neg-rej', 'negative', 'reject');
    await outcome(hub, cs, 'fb-now', 'none-ok', 'none', 'complete');
    await outcome(hub, cs, 'fb-now', 'none-rej', 'none', 'reject');
    await expectFeedback(hub, [
      { originalMessageId: 'pos-ok', deviceId: 'fb-now', statusCode: 'Success' },
      { originalMessageId: 'neg-rej', deviceId: 'fb-now', statusCode: 'Rejected' },
    ]);
  });

  test('an unsettled batch comes back when its lock runs out', T, async () => {
    await outcome(hub, cs, 'fb-now', 'lock-1', 'full', 'complete');
    const first = await waitForFeedback(hub, { timeoutMs: 5000 });
    assert.equal(first.records[0]?.originalMessageId, 'lock-1');
    const again = await waitForFeedback(hub, { timeoutMs: 10_000 });
    assert.equal(again.records[0]?.originalMessageId, 'lock-1');
    assert.notEqual(again.lockToken, first.lockToken);
    await completeFeedback(hub, again.lockToken);
    assert.equal(await receiveFeedback(hub), undefined);
  });
});
