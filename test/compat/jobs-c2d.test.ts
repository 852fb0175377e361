/**
 * Ferry's C2D job (issue 27 item 2) over 1,000 devices selected by a tag query (set by a twin
 * update job): 20 of the online devices are connected with the official device client (10 over
 * MQTT, 10 over AMQP) and receive their copy; the other online ones are checked through the
 * pending peek (REST); 100 offline devices get theirs on reconnect (3 reconnected); 50 have a full
 * queue (c2d.maxQueueDepth 2): the 25 drained while the job runs get their copy, the 25 left full
 * are counted failed with 403004 when the job's time runs out; a disabled device fails with
 * DeviceNotFound. The statistics and the per-device query agree with what the devices got, and
 * each completed copy gets its own Success feedback record (ack full).
 * Then kill -9 of the hub in the middle of a C2D job: it resumes and no device gets two copies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import common from 'azure-iot-common';
import type { Client } from 'azure-iot-device';
import iothub from 'azure-iothub';
import { type HubProcess, startHub } from './harness.js';
import { receive, settle } from './helpers/device-raw.js';
import { completeFeedbackRaw, receiveFeedback } from './helpers/feedback.js';
import {
  connectionString,
  createDevices,
  type DeviceJobRow,
  deviceJobs,
  eachLimited,
  peek,
  putJob,
  waitJob,
} from './helpers/jobs.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { waitFor } from './helpers/wait.js';

const T = { timeout: 120_000 };
const MESSAGE_ID = 'plant3-firmware';
const name = (i: number) => `c2d-${String(i).padStart(4, '0')}`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/** An official device client that completes every message and keeps their ids. */
async function listen(hub: HubProcess, deviceId: string, transport: 'Mqtt' | 'Amqp') {
  const got: string[] = [];
  const client: Client = await openDevice(hub, connectionString(hub, deviceId), transport);
  client.on('message', (m: common.Message) => {
    got.push(String(m.messageId));
    client.complete(m, () => undefined);
  });
  return { client, got };
}

describe('a C2D job over 1,000 devices selected by a tag', () => {
  let hub: HubProcess;
  before(async () => {
    hub = await startHub({
      config: {
        c2d: { maxQueueDepth: 2 },
        feedback: { batchDelayMs: 0 },
        jobs: { pollIntervalMs: 100, retryIntervalMs: 300, maxDevicesPerSecond: 5000 },
      },
    });
  });
  after(async () => {
    await hub?.stop();
  });

  test('online, offline, full and disabled devices: what each got, the statistics and the rows agree', T, async () => {
    const all = range(0, 1000).map(name);
    await createDevices(hub, [...all, 'c2d-decoy']);
    // The tags, by a twin update job over the 1,000 (the decoy keeps none).
    await putJob(hub, 'tag-plant-3', {
      type: 'scheduleUpdateTwin',
      queryCondition: "deviceId >= 'c2d-0000' AND deviceId <= 'c2d-0999'",
      updateTwin: { tags: { site: 'plant-3' } },
    });
    const tagged = await waitJob(hub, 'tag-plant-3');
    assert.equal(tagged.deviceJobStatistics.succeededCount, 1000);

    const registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
    const { responseBody: disabled } = await registry.get(name(999));
    await registry.update({ ...disabled, status: 'disabled' } as never);
    // 50 full queues (c2d-0900..0949): two messages each.
    const service = iothub.Client.fromConnectionString(hub.ownerConnectionString);
    await service.open();
    const full = range(900, 950).map(name);
    await eachLimited(full, 10, async (id) => {
      for (const n of [1, 2]) {
        const m = new common.Message(`fill ${n}`);
        m.messageId = `fill-${n}`;
        await service.send(id, m);
      }
    });
    await service.close();
    // 20 online devices on real connections; c2d-0800..0899 are offline.
    const listeners = await Promise.all(range(0, 20).map((i) => listen(hub, name(i), i < 10 ? 'Mqtt' : 'Amqp')));
    try {
      const job = await putJob(hub, 'firmware', {
        type: 'scheduleCloudToDeviceMessage',
        queryCondition: "tags.site = 'plant-3'",
        maxExecutionTimeInSeconds: 8,
        cloudToDeviceMessage: {
          body: Buffer.from('firmware 2.0').toString('base64'),
          messageId: MESSAGE_ID,
          correlationId: 'rollout-7',
          contentType: 'text/plain',
          ack: 'full',
          properties: { rollout: '7' },
        },
      });
      assert.equal(job.status, 'queued');
      // Half of the full queues drain while the job runs: their copies follow on a retry.
      const drained = full.slice(0, 25);
      await eachLimited(drained, 5, async (id) => {
        for (let k = 0; k < 2; k++) {
          const m = await receive(hub, connectionString(hub, id));
          assert.ok(m, `a fill message for ${id}`);
          await settle(hub, connectionString(hub, id), 'complete', m.lockToken);
        }
      });
      const done = await waitJob(hub, 'firmware');
      assert.deepEqual(
        { ...done.deviceJobStatistics },
        {
          deviceCount: 1000,
          succeededCount: 974,
          failedCount: 26,
          pendingCount: 0,
          runningCount: 0,
          cancelledCount: 0,
        },
      );
      const rows = await deviceJobs(hub, 'firmware');
      assert.equal(rows.length, 1000);
      const failed = rows.filter((r) => r.status === 'failed');
      assert.deepEqual(
        failed.map((r) => [r.deviceId, r.error?.errorCode]),
        [...full.slice(25).map((id) => [id, '403004']), [name(999), '404001']],
      );
      const byId = new Map<string, DeviceJobRow>(rows.map((r) => [r.deviceId, r]));
      // The 20 connected devices received their one copy.
      for (const [i, l] of listeners.entries()) {
        await waitFor(() => (l.got.includes(MESSAGE_ID) ? true : undefined), { what: `${name(i)}'s copy` });
        assert.deepEqual(l.got, [MESSAGE_ID]);
        assert.equal(byId.get(name(i))?.status, 'completed');
      }
      // Every other selected device holds exactly its copy, the one its row names; the full ones none.
      const others = all.filter((_, i) => i >= 20);
      await eachLimited(others, 20, async (id) => {
        const pending = await peek(hub, id);
        const copies = pending.filter((m) => m.messageId === MESSAGE_ID);
        const row = byId.get(id)!;
        if (row.status === 'failed') {
          assert.equal(copies.length, 0, id);
          return;
        }
        assert.equal(copies.length, 1, `${id} has ${copies.length} copies`);
        assert.equal(copies[0]!.sequenceNumber, row.outcome?.sequenceNumber, id);
      });
      assert.equal((await peek(hub, 'c2d-decoy')).length, 0);
      // Offline devices get theirs when they connect.
      const back = await Promise.all([800, 801, 802].map((i) => listen(hub, name(i), i === 802 ? 'Amqp' : 'Mqtt')));
      try {
        for (const l of back) {
          await waitFor(() => (l.got.length ? true : undefined), { what: 'a reconnected device’s copy' });
          assert.deepEqual(l.got, [MESSAGE_ID]);
        }
      } finally {
        for (const l of back) await closeDevice(l.client);
      }
      // Feedback per device, as for any send (ack full): a Success for each copy completed.
      const succeeded = new Set<string>();
      await waitFor(
        async () => {
          const batch = await receiveFeedback(hub);
          if (batch) {
            for (const r of batch.records) {
              assert.equal(r.originalMessageId, MESSAGE_ID);
              assert.equal(r.statusCode, 'Success');
              assert.ok(!succeeded.has(r.deviceId), `one record for ${r.deviceId}`);
              succeeded.add(r.deviceId);
            }
            assert.equal((await completeFeedbackRaw(hub, batch.lockToken)).status, 204);
          }
          return succeeded.size >= 23 ? true : undefined;
        },
        { what: 'the feedback of the 23 completed copies' },
      );
      assert.deepEqual([...succeeded].sort(), [...range(0, 20), 800, 801, 802].map(name));
    } finally {
      for (const l of listeners) await closeDevice(l.client);
    }
  });
});

describe('kill -9 of the hub in the middle of a C2D job', () => {
  let hub: HubProcess;
  before(async () => {
    hub = await startHub({ config: { jobs: { pollIntervalMs: 100, leaseMs: 2000, maxDevicesPerSecond: 100 } } });
  });
  after(async () => {
    await hub?.stop();
  });

  test('the job resumes after the restart and no device gets two copies', T, async () => {
    const ids = range(0, 600).map((i) => `kill-${String(i).padStart(4, '0')}`);
    await createDevices(hub, ids);
    await putJob(hub, 'kill-job', {
      type: 'scheduleCloudToDeviceMessage',
      queryCondition: "deviceId >= 'kill-' AND deviceId < 'kill.'",
      cloudToDeviceMessage: { body: Buffer.from('once').toString('base64'), messageId: 'exactly-once' },
    });
    const mid = await waitJob(hub, 'kill-job', (j) => j.deviceJobStatistics.succeededCount! >= 150, 30_000);
    assert.ok(mid.deviceJobStatistics.pendingCount! > 0, 'killed before the job ended');
    await hub.kill();
    await hub.restart();
    const done = await waitJob(hub, 'kill-job');
    assert.equal(done.deviceJobStatistics.succeededCount, 600);
    assert.equal(done.deviceJobStatistics.deviceCount, 600);
    await eachLimited(ids, 20, async (id) => {
      const copies = (await peek(hub, id)).filter((m) => m.messageId === 'exactly-once');
      assert.equal(copies.length, 1, `${id} has ${copies.length} copies`);
    });
  });
});
