/**
 * A job request (PUT /jobs/v2/{id}) checked and turned into a JobRecord: IoT Hub's fields
 * (jobId, type, queryCondition, startTime, maxExecutionTimeInSeconds, cloudToDeviceMethod,
 * updateTwin) and Ferry's C2D job (cloudToDeviceMessage). Bad input is ArgumentInvalid or
 * ArgumentNull with the field's name; nothing is stored.
 */
import { FerryError, type OutgoingMessage } from '@ferry/common';
import { parseMethodCall } from '../methods/index.js';
import { isJsonObject, type JsonObject } from '../twins/json.js';
import { JOB_TYPES, type JobRecord, type JobType } from './types.js';

/** IoT Hub's: jobId at most 128 characters of these. */
const JOB_ID = /^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$/;
const ACKS = new Set(['none', 'positive', 'negative', 'full']);
export const DEFAULT_MAX_EXECUTION_SECONDS = 3600;
const MAX_EXECUTION_SECONDS = 30 * 24 * 3600;

function invalid(text: string): FerryError {
  return new FerryError('ArgumentInvalid', text);
}

export function checkJobId(jobId: string): string {
  if (!JOB_ID.test(jobId))
    throw invalid(`jobId "${jobId.slice(0, 40)}" must be 1-128 letters, digits or - : . + % _ # * ? ! ( ) , = @ ; $ '`);
  return jobId;
}

function optionalString(o: JsonObject, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`cloudToDeviceMessage.${key} must be a string`);
  return v;
}

/** The request's job; `checkCondition` throws ArgumentInvalid for a condition the query language refuses. */
export function parseJobRequest(
  jobId: string,
  body: unknown,
  now: number,
  checkCondition: (condition: string) => void,
): JobRecord {
  checkJobId(jobId);
  if (!isJsonObject(body)) throw invalid('the job must be a JSON object');
  if (body.jobId !== undefined && body.jobId !== jobId) throw invalid(`the body's jobId is not the path's (${jobId})`);
  const type = body.type;
  if (typeof type !== 'string' || !JOB_TYPES.includes(type as JobType))
    throw invalid(`type must be one of ${JOB_TYPES.join(', ')}`);
  const condition = body.queryCondition;
  if (typeof condition !== 'string' || condition.trim() === '')
    throw new FerryError('ArgumentNull', 'queryCondition (a twin query WHERE clause) is required');
  checkCondition(condition);
  let startTime = now;
  if (body.startTime !== undefined && body.startTime !== null) {
    startTime = typeof body.startTime === 'string' ? Date.parse(body.startTime) : Number.NaN;
    if (!Number.isFinite(startTime)) throw invalid('startTime must be an ISO 8601 date');
  }
  const max = body.maxExecutionTimeInSeconds ?? DEFAULT_MAX_EXECUTION_SECONDS;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_EXECUTION_SECONDS)
    throw invalid(`maxExecutionTimeInSeconds must be a whole number from 1 to ${MAX_EXECUTION_SECONDS}`);
  return {
    jobId,
    type: type as JobType,
    status: 'queued',
    queryCondition: condition,
    createdTime: now,
    startTime,
    endTime: null,
    maxExecutionTimeInSeconds: max,
    parameters: parametersOf(type as JobType, body),
    failureReason: null,
    selected: false,
    selectedThrough: '',
    leaseOwner: null,
    leaseUntil: null,
  };
}

function parametersOf(type: JobType, body: JsonObject): JsonObject {
  switch (type) {
    case 'scheduleDeviceMethod': {
      const m = body.cloudToDeviceMethod;
      if (!isJsonObject(m)) throw new FerryError('ArgumentNull', 'cloudToDeviceMethod is required');
      // Older clients name the response timeout timeoutInSeconds.
      const { timeoutInSeconds, ...call } = m;
      const response = m.responseTimeoutInSeconds ?? timeoutInSeconds;
      if (response !== undefined) call.responseTimeoutInSeconds = response;
      parseMethodCall(call);
      return { cloudToDeviceMethod: call };
    }
    case 'scheduleUpdateTwin':
      return { updateTwin: twinPatchOf(body.updateTwin) };
    case 'scheduleCloudToDeviceMessage': {
      const m = body.cloudToDeviceMessage;
      if (!isJsonObject(m)) throw new FerryError('ArgumentNull', 'cloudToDeviceMessage is required');
      jobMessage(m);
      return { cloudToDeviceMessage: m };
    }
  }
}

/**
 * The twin patch a job applies: tags and desired properties. What a client sends back of a twin
 * it read (etag, deviceId, an empty reported section) is left out; reported properties are not
 * the service's to write.
 */
function twinPatchOf(v: unknown): JsonObject {
  if (!isJsonObject(v)) throw new FerryError('ArgumentNull', 'updateTwin (a twin patch) is required');
  const patch: JsonObject = {};
  if (v.tags !== undefined && v.tags !== null) patch.tags = v.tags;
  const props = v.properties;
  if (props !== undefined && props !== null) {
    if (!isJsonObject(props)) throw invalid('updateTwin.properties must be a JSON object');
    const reported = props.reported;
    if (reported !== undefined && reported !== null && !(isJsonObject(reported) && Object.keys(reported).length === 0))
      throw invalid('updateTwin.properties.reported: reported properties are written by the device, not a job');
    if (props.desired !== undefined && props.desired !== null) patch.properties = { desired: props.desired };
  }
  return patch;
}

/** The message every selected device gets a copy of (checked again per send by the engine). */
export function jobMessage(m: JsonObject): OutgoingMessage {
  const body = m.body ?? '';
  if (typeof body !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0)
    throw invalid('cloudToDeviceMessage.body must be base64 text');
  const out: OutgoingMessage = { body: Buffer.from(body, 'base64') };
  for (const key of ['messageId', 'correlationId', 'contentType', 'contentEncoding'] as const) {
    const v = optionalString(m, key);
    if (v !== undefined) out[key] = v;
  }
  const ack = optionalString(m, 'ack');
  if (ack !== undefined) {
    if (!ACKS.has(ack)) throw invalid('cloudToDeviceMessage.ack must be none, positive, negative or full');
    out.ack = ack as OutgoingMessage['ack'];
  }
  const expiry = optionalString(m, 'expiryTimeUtc');
  if (expiry !== undefined) {
    const t = Date.parse(expiry);
    if (!Number.isFinite(t)) throw invalid('cloudToDeviceMessage.expiryTimeUtc must be an ISO 8601 date');
    out.expiryTimeUtc = t;
  }
  const props = m.properties;
  if (props !== undefined && props !== null) {
    if (!isJsonObject(props) || Object.values(props).some((v) => typeof v !== 'string'))
      throw invalid('cloudToDeviceMessage.properties must be an object of strings');
    out.properties = props as Record<string, string>;
  }
  return out;
}
