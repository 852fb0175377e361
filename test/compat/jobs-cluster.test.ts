/**
 * Jobs on two hub processes sharing one PostgreSQL schema (issue 27): a C2D job created on node A
 * runs there (B, started while it runs, cannot claim it while A renews its lease); kill -9 of A:
 * B claims the job once A's lease has expired and finishes it, and every device holds exactly one
 * copy. Twin and method jobs created through B while A is gone run on B.
 */
import assert from 'node:assert/strict';
import { after, afterEach, test } from 'node:test';
import { type HubProcess, startHub } from './harness.js';
import { createDevices, eachLimited, getJob, peek, putJob, waitJob } from './helpers/jobs.js';
import { clusterStore, dropSchema } from './helpers/postgres.js';

const T = { timeout: 120_000 };
const store = clusterStore('jobs');
// A is slow (20 s for the job) so it is still running it when B is up; B finishes fast.
const config = (maxDevicesPerSecond: number) => ({ jobs: { pollIntervalMs: 100, leaseMs: 2000, maxDevicesPerSecond } });
let a: HubProcess | undefined;
let b: HubProcess | undefined;
let failed = false;

afterEach((t) => {
  if ((t as unknown as { passed?: boolean }).passed === false) failed = true;
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  if (!failed) await dropSchema(store.schema);
});

test('a job runs on one node; when that node dies another resumes it, one copy per device', T, async () => {
  a = await startHub({ store, config: config(20) });
  const ids = Array.from({ length: 400 }, (_, i) => `cl-${String(i).padStart(4, '0')}`);
  await createDevices(a, ids);
  await putJob(a, 'cluster-c2d', {
    type: 'scheduleCloudToDeviceMessage',
    queryCondition: "deviceId >= 'cl-' AND deviceId < 'cl.'",
    cloudToDeviceMessage: { body: Buffer.from('one').toString('base64'), messageId: 'cluster-copy' },
  });
  await waitJob(a, 'cluster-c2d', (j) => j.deviceJobStatistics.succeededCount! >= 20, 30_000);
  b = await startHub({ store, config: config(1000) });
  const running = await getJob(b, 'cluster-c2d');
  assert.equal(running.status, 'running');
  await a.kill();
  const done = await waitJob(b, 'cluster-c2d');
  assert.equal(done.deviceJobStatistics.succeededCount, 400);
  assert.equal(done.deviceJobStatistics.failedCount, 0);
  await eachLimited(ids, 20, async (id) => {
    const copies = (await peek(b!, id)).filter((m) => m.messageId === 'cluster-copy');
    assert.equal(copies.length, 1, `${id} has ${copies.length} copies`);
  });
  await putJob(b, 'cluster-twin', {
    type: 'scheduleUpdateTwin',
    queryCondition: "deviceId IN ['cl-0000', 'cl-0001']",
    updateTwin: { tags: { moved: true } },
  });
  const twin = await waitJob(b, 'cluster-twin');
  assert.equal(twin.deviceJobStatistics.succeededCount, 2);
});
