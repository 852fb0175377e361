/**
 * Jobs as IoT Hub's REST API shows them (azure-iothub JobClient reads these): times as ISO 8601,
 * the type's parameters under their own key, deviceJobStatistics; a device's job as the query
 * SELECT * FROM devices.jobs returns it.
 */
import type { DeviceJobRecord, JobRecord, JobView } from '../../jobs/index.js';

const iso = (ms: number | null): string | undefined => (ms === null ? undefined : new Date(ms).toISOString());

export function jobJson({ job, devices }: JobView): Record<string, unknown> {
  const total = devices.pending + devices.completed + devices.failed + devices.cancelled;
  return {
    jobId: job.jobId,
    type: job.type,
    status: job.status,
    queryCondition: job.queryCondition,
    createdTime: iso(job.createdTime),
    startTime: iso(job.startTime),
    endTime: iso(job.endTime),
    maxExecutionTimeInSeconds: job.maxExecutionTimeInSeconds,
    ...job.parameters,
    ...(job.failureReason !== null && { failureReason: job.failureReason }),
    deviceJobStatistics: {
      deviceCount: total,
      failedCount: devices.failed,
      succeededCount: devices.completed,
      runningCount: 0,
      pendingCount: devices.pending,
      // Ferry's: devices a cancel left out (IoT Hub counts them nowhere).
      cancelledCount: devices.cancelled,
    },
  };
}

export function deviceJobJson(job: JobRecord, d: DeviceJobRecord): Record<string, unknown> {
  return {
    deviceId: d.deviceId,
    jobId: d.jobId,
    jobType: job.type,
    status: d.status,
    createdDateTimeUtc: iso(d.createdTime),
    startTimeUtc: iso(job.startTime),
    ...(d.endTime !== null && { endTimeUtc: iso(d.endTime) }),
    lastUpdatedDateTimeUtc: iso(d.lastUpdatedTime),
    ...(d.outcome !== null && { outcome: d.outcome }),
    ...(d.error !== null && { error: d.error }),
  };
}
