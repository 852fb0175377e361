/** Jobs over the REST API for compat tests: create, wait for a status, the per-device rows, peeks, many devices. */
import assert from 'node:assert/strict';
import { formatDeviceConnectionString } from '@ferry/common';
import iothub from 'azure-iothub';
import { type HubProcess, hubRequest } from '../harness.js';
import { serviceSas } from './auth.js';
import { waitFor } from './wait.js';

const API = 'api-version=2021-04-12';

export interface JobJson {
  jobId: string;
  status: string;
  type: string;
  deviceJobStatistics: Record<string, number>;
}

export interface DeviceJobRow {
  deviceId: string;
  status: string;
  outcome?: { sequenceNumber?: number; messageId?: string; deviceMethodResponse?: unknown };
  error?: { code: string; errorCode: string };
}

async function call(hub: HubProcess, method: string, path: string, body?: unknown, headers = {}) {
  const r = await hubRequest(hub, method, `${path}${path.includes('?') ? '&' : '?'}${API}`, {
    headers: { authorization: serviceSas(hub, 'iothubowner'), 'content-type': 'application/json', ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return {
    status: r.status,
    headers: r.headers,
    json: r.body.length ? (JSON.parse(r.body.toString()) as unknown) : null,
  };
}

export async function putJob(hub: HubProcess, jobId: string, job: Record<string, unknown>): Promise<JobJson> {
  const r = await call(hub, 'PUT', `/jobs/v2/${jobId}`, { jobId, ...job });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json as JobJson;
}

export async function getJob(hub: HubProcess, jobId: string): Promise<JobJson> {
  const r = await call(hub, 'GET', `/jobs/v2/${jobId}`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json as JobJson;
}

/** Polls the job until `done` says so (or it fails or is cancelled unexpectedly). */
export function waitJob(
  hub: HubProcess,
  jobId: string,
  done: (j: JobJson) => boolean = (j) => j.status === 'completed',
  timeoutMs = 60_000,
): Promise<JobJson> {
  return waitFor(
    async () => {
      const j = await getJob(hub, jobId);
      if (j.status === 'failed') assert.fail(`job ${jobId} failed: ${JSON.stringify(j)}`);
      return done(j) ? j : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `job ${jobId}` },
  );
}

/** Every row of SELECT * FROM devices.jobs for the job, page after page. */
export async function deviceJobs(hub: HubProcess, jobId: string): Promise<DeviceJobRow[]> {
  const rows: DeviceJobRow[] = [];
  let continuation: string | undefined;
  do {
    const r = await call(
      hub,
      'POST',
      '/devices/query',
      { query: `SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '${jobId}'` },
      { 'x-ms-max-item-count': '500', ...(continuation && { 'x-ms-continuation': continuation }) },
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    rows.push(...(r.json as DeviceJobRow[]));
    continuation = r.headers['x-ms-continuation'] as string | undefined;
  } while (continuation);
  return rows;
}

/** The device's pending messages (Ferry's peek), message ids and sequence numbers. */
export async function peek(
  hub: HubProcess,
  deviceId: string,
): Promise<Array<{ messageId: string; sequenceNumber: number }>> {
  const r = await call(hub, 'GET', `/devices/${deviceId}/messages/deviceBound/pending?top=100`);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json as Array<{ messageId: string; sequenceNumber: number }>;
}

/** Runs fn over the items, `width` at a time. */
export async function eachLimited<T>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

export const DEVICE_KEY = Buffer.alloc(32, 3).toString('base64');

/** Creates the devices 100 a call with the official Registry, all with DEVICE_KEY. */
export async function createDevices(hub: HubProcess, ids: readonly string[]): Promise<void> {
  const registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
  for (let i = 0; i < ids.length; i += 100) {
    const devices = ids.slice(i, i + 100).map((deviceId) => ({
      deviceId,
      authentication: { symmetricKey: { primaryKey: DEVICE_KEY, secondaryKey: DEVICE_KEY } },
    }));
    const { responseBody } = (await registry.addDevices(devices as never)) as unknown as {
      responseBody: { isSuccessful: boolean };
    };
    assert.equal(responseBody.isSuccessful, true);
  }
}

export function connectionString(hub: HubProcess, deviceId: string): string {
  return formatDeviceConnectionString({ hostName: hub.address, deviceId, sharedAccessKey: DEVICE_KEY });
}
