/**
 * Direct methods from the back end: `POST /twins/{id}/methods`, as azure-iothub's
 * Client.invokeDeviceMethod calls it. The answer comes once the device has answered; a call is
 * never retried (the device may have acted on it already).
 */
import { FerryError } from '@ferry/common';
import { type HttpsTarget, httpsCall, ok, type TokenSource } from '@ferry/common/client';

export interface MethodParams {
  methodName: string;
  /** Anything JSON can carry (default null). */
  payload?: unknown;
  /** How long the device has to answer once it has the call, 5 to 300 s (default 30). */
  responseTimeoutInSeconds?: number;
  /** How long to wait for the device to connect when it is not, 0 to 300 s (default 0: it must be online). */
  connectTimeoutInSeconds?: number;
}

export interface MethodResult {
  /** The device's status. */
  status: number;
  /** The device's JSON payload. */
  payload: unknown;
}

const KEYS = ['methodName', 'payload', 'responseTimeoutInSeconds', 'connectTimeoutInSeconds'];
/** Time for the request and answer themselves, past the two time-outs. */
const SLACK_MS = 15_000;

function seconds(v: unknown, key: string, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > 300) {
    throw new FerryError('ArgumentInvalid', `${key} must be a whole number from ${min} to 300; got ${String(v)}`);
  }
  return v as number;
}

export async function invokeMethod(
  target: HttpsTarget,
  tokens: TokenSource,
  deviceId: string,
  params: MethodParams,
): Promise<MethodResult> {
  if (typeof deviceId !== 'string' || deviceId === '')
    throw new FerryError('ArgumentNull', 'invokeMethod() needs a device id');
  if (
    typeof params !== 'object' ||
    params === null ||
    typeof params.methodName !== 'string' ||
    params.methodName === ''
  ) {
    throw new FerryError('ArgumentNull', 'invokeMethod() needs { methodName }');
  }
  for (const key of Object.keys(params)) {
    if (!KEYS.includes(key))
      throw new FerryError('ArgumentInvalid', `Unknown invokeMethod parameter "${key}"; known: ${KEYS.join(', ')}`);
  }
  const responseTimeout = seconds(params.responseTimeoutInSeconds, 'responseTimeoutInSeconds', 5, 30);
  const connectTimeout = seconds(params.connectTimeoutInSeconds, 'connectTimeoutInSeconds', 0, 0);
  const body = {
    methodName: params.methodName,
    payload: params.payload ?? null,
    responseTimeoutInSeconds: responseTimeout,
    connectTimeoutInSeconds: connectTimeout,
  };
  const reply = await httpsCall(target, {
    method: 'POST',
    path: `/twins/${encodeURIComponent(deviceId)}/methods`,
    authorization: tokens.token(),
    headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
    body: Buffer.from(JSON.stringify(body), 'utf8'),
    timeoutMs: (responseTimeout + connectTimeout) * 1000 + SLACK_MS,
  }).then(ok);
  const result = JSON.parse(reply.body.toString('utf8')) as { status?: unknown; payload?: unknown };
  if (!Number.isInteger(result.status))
    throw new FerryError('ServerError', 'The hub answered a method call without a status');
  return { status: result.status as number, payload: result.payload ?? null };
}
