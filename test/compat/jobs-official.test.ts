/**
 * IoT Hub jobs with azure-iothub's JobClient, unchanged (issue 27): what Microsoft's e2e
 * job_client.js does (a twin update job and a method job on a device selected by
 * `deviceId = '...'`, each scheduled now and in an hour then cancelled), over a selection of
 * several devices with the official device answering over MQTT and AMQP, and the job query by
 * type and status. The per-device results through SELECT * FROM devices.jobs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import iothub from 'azure-iothub';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { deviceJobs } from './helpers/jobs.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { waitFor } from './helpers/wait.js';

const T = { timeout: 90_000 };

let hub: HubProcess;
let jobs: iothub.JobClient;
let registry: iothub.Registry;
let service: iothub.Client;

before(async () => {
  hub = await startHub({ config: { jobs: { pollIntervalMs: 100 } } });
  jobs = iothub.JobClient.fromConnectionString(hub.ownerConnectionString);
  registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
  service = iothub.Client.fromConnectionString(hub.ownerConnectionString);
});

after(async () => {
  await service?.close().catch(() => undefined);
  await hub?.stop();
});

interface JobJson {
  jobId: string;
  status: string;
  type: string;
  deviceJobStatistics: Record<string, number>;
}

async function job(jobId: string): Promise<JobJson> {
  const { jobStatus } = (await jobs.getJob(jobId)) as unknown as { jobStatus: JobJson };
  return jobStatus;
}

async function until(jobId: string, status: string): Promise<JobJson> {
  return waitFor(
    async () => {
      const j = await job(jobId);
      if (j.status === 'failed' || (j.status === 'cancelled' && status !== 'cancelled'))
        assert.fail(`job ${jobId} is ${j.status}`);
      return j.status === status ? j : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `job ${jobId} ${status}` },
  );
}

describe("Microsoft's job_client.js scenarios", () => {
  const id = 'jobs-e2e-device';
  let cs: string;
  before(async () => {
    cs = await hub.createDevice(id);
  });

  test('a twin update job with a sql query succeeds', T, async () => {
    const patch = { etag: '*', tags: { key: 'value2' }, properties: { desired: {}, reported: {} } };
    await jobs.scheduleTwinUpdate('twin-now', `deviceId = '${id}'`, patch, new Date(), 120);
    const done = await until('twin-now', 'completed');
    assert.equal(done.type, 'scheduleUpdateTwin');
    assert.deepEqual(
      { ...done.deviceJobStatistics },
      { deviceCount: 1, failedCount: 0, succeededCount: 1, runningCount: 0, pendingCount: 0, cancelledCount: 0 },
    );
    const { responseBody } = (await registry.getTwin(id)) as unknown as { responseBody: { tags: { key: string } } };
    assert.equal(responseBody.tags.key, 'value2');
  });

  for (const [name, schedule] of [
    [
      'twin update',
      (jobId: string) =>
        jobs.scheduleTwinUpdate(jobId, `deviceId = '${id}'`, { tags: {} }, new Date(Date.now() + 3_600_000), 120),
    ],
    [
      'device method',
      (jobId: string) =>
        jobs.scheduleDeviceMethod(
          jobId,
          `deviceId = '${id}'`,
          { methodName: 'm', payload: null, timeoutInSeconds: 30 } as never,
          new Date(Date.now() + 3_600_000),
          120,
        ),
    ],
  ] as const) {
    test(`a ${name} job scheduled in an hour is queued, then cancelled`, T, async () => {
      const jobId = `later-${name.replace(' ', '-')}`;
      const { jobStatus } = (await schedule(jobId)) as unknown as { jobStatus: JobJson };
      assert.equal(jobStatus.jobId, jobId);
      assert.equal(jobStatus.status, 'queued');
      await jobs.cancelJob(jobId);
      await until(jobId, 'cancelled');
    });
  }

  test('a device method job: the official device (MQTT) answers, the job completes', T, async () => {
    const client = await openDevice(hub, cs, 'Mqtt');
    try {
      let answered = 0;
      client.onDeviceMethod('testMethod', (_req, res) => {
        answered++;
        res.send(200, { ok: true }, () => undefined);
      });
      client.onDeviceMethod('ping', (_req, res) => res.send(200, null, () => undefined));
      await service.invokeDeviceMethod(id, { methodName: 'ping', connectTimeoutInSeconds: 10 } as never);
      const method = { methodName: 'testMethod', payload: null, timeoutInSeconds: 30 };
      await jobs.scheduleDeviceMethod('method-now', `deviceId = '${id}'`, method as never, new Date(), 120);
      const done = await until('method-now', 'completed');
      assert.equal(done.deviceJobStatistics.succeededCount, 1);
      assert.equal(answered, 1);
      const [row] = await deviceJobs(hub, 'method-now');
      assert.equal(row?.status, 'completed');
      assert.deepEqual(row?.outcome, { deviceMethodResponse: { status: 200, payload: { ok: true } } });
    } finally {
      await closeDevice(client);
    }
  });
});

describe('a method job over a tag query: devices online over MQTT and AMQP answer, an offline one fails', () => {
  test('statistics and per-device results agree with what the devices did', T, async () => {
    const ids = ['site-a', 'site-b', 'site-c'];
    const clients = [];
    for (const [i, deviceId] of ids.entries()) {
      const cs = await hub.createDevice(deviceId);
      await registry.updateTwin(deviceId, { tags: { site: 'plant-3' } }, '*');
      if (i < 2) {
        const c = await openDevice(hub, cs, i === 0 ? 'Mqtt' : 'Amqp');
        c.onDeviceMethod('reboot', (req, res) => res.send(201, { who: deviceId, got: req.payload }, () => undefined));
        c.onDeviceMethod('ping', (_req, res) => res.send(200, null, () => undefined));
        clients.push(c);
        // JobClient sends no connect timeout: the job reaches the device once its subscription is on.
        await service.invokeDeviceMethod(deviceId, { methodName: 'ping', connectTimeoutInSeconds: 10 } as never);
      }
    }
    try {
      // The connect timeout covers the handlers' subscriptions, still on their way.
      const method = {
        methodName: 'reboot',
        payload: { n: 1 },
        responseTimeoutInSeconds: 10,
        connectTimeoutInSeconds: 5,
      };
      await jobs.scheduleDeviceMethod('reboot-plant-3', "tags.site = 'plant-3'", method as never, new Date(), 120);
      const done = await until('reboot-plant-3', 'completed');
      assert.deepEqual(
        [
          done.deviceJobStatistics.deviceCount,
          done.deviceJobStatistics.succeededCount,
          done.deviceJobStatistics.failedCount,
        ],
        [3, 2, 1],
      );
      const rows = await deviceJobs(hub, 'reboot-plant-3');
      assert.deepEqual(
        rows.map((r) => [r.deviceId, r.status, (r.error as { code?: string } | undefined)?.code]),
        [
          ['site-a', 'completed', undefined],
          ['site-b', 'completed', undefined],
          ['site-c', 'failed', 'DeviceNotOnline'],
        ],
      );
      assert.deepEqual(rows[1]?.outcome, {
        deviceMethodResponse: { status: 201, payload: { who: 'site-b', got: { n: 1 } } },
      });
      // The query by type and status finds it.
      const q = jobs.createQuery('scheduleDeviceMethod', 'completed' as never);
      const page = (await q.next()) as unknown as { result: JobJson[] };
      assert.ok(page.result.some((j) => j.jobId === 'reboot-plant-3'));
      assert.ok(page.result.every((j) => j.type === 'scheduleDeviceMethod' && j.status === 'completed'));
    } finally {
      for (const c of clients) await closeDevice(c);
    }
  });

  test('bad jobs get IoT Hub error codes and nothing is stored', T, async () => {
    const put = (jobId: string, body: unknown) =>
      hubRequest(hub, 'PUT', `/jobs/v2/${jobId}?api-version=2021-04-12`, {
        headers: { authorization: serviceSas(hub, 'iothubowner'), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const bad = await put('bad-1', {
      jobId: 'bad-1',
      type: 'scheduleUpdateTwin',
      queryCondition: 'tags.x ==== 1',
      updateTwin: {},
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['iothub-errorcode'], 'ArgumentInvalid');
    const noType = await put('bad-2', { jobId: 'bad-2', queryCondition: "deviceId = 'x'" });
    assert.equal(noType.status, 400);
    const get = await hubRequest(hub, 'GET', '/jobs/v2/bad-1?api-version=2021-04-12', {
      headers: { authorization: serviceSas(hub, 'iothubowner') },
    });
    assert.equal(get.status, 404);
  });
});
