/**
 * What a job does to each device, by type, through the other domains' public interfaces: a direct
 * method (methods/), a twin patch (twins/), a C2D copy (the engine's sendForJob, which marks the
 * ledger row in the enqueue's transaction). Each returns the results to record; a C2D copy that
 * went needs none (its row is already marked), a retryable refusal keeps its row pending.
 */
import { FerryError, isFerryError, type OutgoingMessage, toFerryError } from '@ferry/common';
import type { SendResult } from '../engine/types.js';
import { type MethodCall, type MethodResult, parseMethodCall } from '../methods/index.js';
import type { JsonObject } from '../twins/json.js';
import type { DeviceJobError, DeviceJobResult, JobRecord } from './types.js';
import { jobMessage } from './validate.js';

/** The domains a job acts through (narrow, so a test fakes them in a few lines). */
export interface JobTargets {
  twins: {
    selectDevices(condition: string, afterDeviceId: string, limit: number): Promise<string[]>;
    checkCondition(condition: string): void;
    update(deviceId: string, body: unknown, mode: 'patch'): Promise<unknown>;
  };
  methods: { invoke(deviceId: string, call: MethodCall): Promise<MethodResult> };
  c2d: {
    sendForJob(
      jobId: string,
      items: ReadonlyArray<{ deviceId: string; message: OutgoingMessage }>,
    ): Promise<Array<SendResult | 'sent-before' | Error>>;
  };
}

export type DeviceAction = (deviceIds: readonly string[]) => Promise<DeviceJobResult[]>;

/** Refusals that may pass: the device's queue drains, the storage comes back. */
const RETRYABLE = new Set([
  'DeviceMaximumQueueDepthExceeded',
  'ThrottlingException',
  'ServerBusy',
  'ServiceUnavailable',
]);

export function errorOf(err: unknown): DeviceJobError {
  const e = toFerryError(err);
  return { code: e.errorName, errorCode: String(e.code), description: e.message };
}

export function actionFor(job: JobRecord, targets: JobTargets): DeviceAction {
  const params = job.parameters;
  switch (job.type) {
    case 'scheduleDeviceMethod': {
      const call = parseMethodCall(params.cloudToDeviceMethod);
      return (ids) =>
        Promise.all(
          ids.map((deviceId) =>
            targets.methods.invoke(deviceId, call).then(
              (r): DeviceJobResult => ({
                deviceId,
                status: 'completed',
                outcome: { deviceMethodResponse: { status: r.status, payload: r.payload as JsonObject } },
              }),
              (err): DeviceJobResult => ({ deviceId, status: 'failed', error: errorOf(err) }),
            ),
          ),
        );
    }
    case 'scheduleUpdateTwin': {
      const patch = params.updateTwin;
      return (ids) =>
        Promise.all(
          ids.map((deviceId) =>
            targets.twins.update(deviceId, patch, 'patch').then(
              (): DeviceJobResult => ({ deviceId, status: 'completed' }),
              (err): DeviceJobResult => ({ deviceId, status: 'failed', error: errorOf(err) }),
            ),
          ),
        );
    }
    case 'scheduleCloudToDeviceMessage': {
      const message = jobMessage(params.cloudToDeviceMessage as JsonObject);
      return async (ids) => {
        const sent = await targets.c2d.sendForJob(
          job.jobId,
          ids.map((deviceId) => ({ deviceId, message })),
        );
        const results: DeviceJobResult[] = [];
        sent.forEach((r, i) => {
          if (!(r instanceof Error)) return;
          const error = errorOf(r);
          const retry = isFerryError(r) && RETRYABLE.has(r.errorName);
          results.push({ deviceId: ids[i]!, status: retry ? 'pending' : 'failed', error });
        });
        return results;
      };
    }
  }
}

/** The error a device still pending gets when the job's time runs out without a refusal of its own. */
export function timedOut(job: JobRecord): DeviceJobError {
  return errorOf(
    new FerryError('GatewayTimeout', `the job's maxExecutionTimeInSeconds (${job.maxExecutionTimeInSeconds}) ran out`),
  );
}
