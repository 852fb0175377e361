/**
 * Issue 27 items 3 and 4 against a real hub with short retentions: the dead-letter list honours its
 * cap (the oldest dropped first) and its retention, and a message's history goes once its end is
 * c2d.historyRetentionMs behind, while a message still in the queue keeps its history. The hub's
 * scheduler removes them (docs/dead-letters.md, docs/message-history.md).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { receive, settle } from './helpers/device-raw.js';
import { API, send } from './helpers/send.js';
import { waitFor } from './helpers/wait.js';

const T = { timeout: 60_000 };
const RETENTION_MS = 3000;
let hub: HubProcess;

before(async () => {
  hub = await startHub({
    config: {
      c2d: { deadLetterRetentionMs: RETENTION_MS, maxDeadLettersPerDevice: 2, historyRetentionMs: RETENTION_MS },
    },
  });
});

after(async () => {
  await hub?.stop();
});

async function get(path: string): Promise<unknown> {
  const res = await hubRequest(hub, 'GET', `${path}&${API}`, { headers: { authorization: serviceSas(hub) } });
  assert.equal(res.status, 200, res.body.toString('utf8'));
  return JSON.parse(res.body.toString('utf8'));
}

const deadLetterIds = async (deviceId: string) =>
  ((await get(`/devices/${deviceId}/messages/deviceBound/deadLetters?top=10`)) as Array<{ messageId: string }>).map(
    (m) => m.messageId,
  );
const copies = async (deviceId: string, messageId: string) =>
  ((await get(`/devices/${deviceId}/messages/deviceBound/history?messageId=${messageId}`)) as { copies: unknown[] })
    .copies.length;

test('the dead-letter list keeps the newest up to the cap, and none past the retention', T, async () => {
  const cs = await hub.createDevice('rt1');
  for (const id of ['a', 'b', 'c']) {
    await send(hub, 'rt1', { messageId: id });
    await settle(hub, cs, 'reject', (await receive(hub, cs))!.lockToken);
  }
  assert.deepEqual(await deadLetterIds('rt1'), ['b', 'c'], 'the cap (2) dropped the oldest');
  await waitFor(async () => ((await deadLetterIds('rt1')).length === 0 ? true : undefined), {
    what: 'the dead letters removed after their retention',
    timeoutMs: 20_000,
    intervalMs: 250,
  });
});

test("a message's history goes after the retention from its end; a pending message keeps its own", T, async () => {
  const cs = await hub.createDevice('rt2');
  await send(hub, 'rt2', { messageId: 'done' });
  // Enqueued before "done" ends: kept past the moment "done" goes, as it has not ended.
  await send(hub, 'rt2', { messageId: 'pending' });
  await settle(hub, cs, 'complete', (await receive(hub, cs))!.lockToken);
  assert.equal(await copies('rt2', 'done'), 1);
  await waitFor(async () => ((await copies('rt2', 'done')) === 0 ? true : undefined), {
    what: 'the history of the completed message removed after its retention',
    timeoutMs: 20_000,
    intervalMs: 250,
  });
  assert.equal(await copies('rt2', 'pending'), 1, 'still in the queue: its history is kept');
});
