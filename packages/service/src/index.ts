/**
 * @ferry/service: a back end's side of cloud-to-device messaging with Ferry or Azure IoT Hub.
 *
 * ```ts
 * const service = ServiceClient.fromConnectionString(cs, { ca });
 * await service.send('dev1', { body: 'Cloud to device message.', ack: 'full' });
 * for await (const batch of service.feedback()) { ...; await batch.complete(); }
 * for await (const event of service.readEvents({ from: 'earliest' })) console.log(event.deviceId, event.body);
 * const { status, payload } = await service.invokeMethod('dev1', { methodName: 'reboot', payload: { delay: 5 } });
 * await service.jobs.scheduleCloudToDeviceMessage('rollout-7', "tags.site = 'plant-3'", { body: 'firmware 2.0' });
 * ```
 */
export { type Ack, type ErrorName, FerryError, isFerryError } from '@ferry/common';
export {
  type BackoffOptions,
  ExponentialBackoffWithJitter,
  isTransient,
  noRetry,
  type RetryPolicy,
} from '@ferry/common/client';
export type { EventStart, ReadEventsOptions, TelemetryEvent } from './event-reader.js';
export type { FeedbackBatch, FeedbackRecord, FeedbackStatus } from './feedback.js';
export {
  type DeviceJobResult,
  type Job,
  JobClient,
  type JobMessage,
  type JobSchedule,
  type JobStatus,
  type JobType,
} from './jobs.js';
export type {
  DeadLetter,
  DeadLetterReason,
  HistoryCopy,
  HistoryStep,
  HistoryStepKind,
  MessageHistory,
} from './message-inspection.js';
export type { MethodParams, MethodResult } from './methods.js';
export { SERVICE_TRANSPORTS, type ServiceClientOptions, type ServiceTransportName } from './options.js';
export {
  type Device,
  type DeviceDescription,
  type DeviceStatus,
  RegistryClient,
  type RegistryStatistics,
  type Twin,
  type TwinPatch,
  type TwinProperties,
} from './registry.js';
export { type SendMessage, type SendResult, ServiceClient } from './service-client.js';
