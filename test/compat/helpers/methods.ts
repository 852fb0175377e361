/** Direct methods through azure-iothub's Client.invokeDeviceMethod, and an echoing device handler. */
import assert from 'node:assert/strict';
import type { DeviceMethodRequest, DeviceMethodResponse } from 'azure-iot-device';
import type iothub from 'azure-iothub';
import { type HubProcess, hubRequest } from '../harness.js';
import { serviceSas } from './auth.js';
import { withTimeout } from './wait.js';

export interface Invoked {
  status: number;
  payload: unknown;
}

/** Invokes through the official service client; resolves with the result or rejects with its error. */
export async function invoke(
  service: iothub.Client,
  deviceId: string,
  params: Record<string, unknown>,
): Promise<Invoked> {
  const p = service.invokeDeviceMethod(deviceId, params as never) as unknown as Promise<{ result: Invoked }>;
  const { result } = await withTimeout(p, 60_000, 'invokeDeviceMethod');
  return result;
}

/** "<HTTP status> <iothub-errorcode>" of an invokeDeviceMethod that must fail. */
export async function failure(
  service: iothub.Client,
  deviceId: string,
  params: Record<string, unknown>,
): Promise<string> {
  try {
    await invoke(service, deviceId, params);
  } catch (err) {
    const e = err as { response?: { statusCode?: number; headers?: Record<string, string> } };
    return `${e.response?.statusCode} ${e.response?.headers?.['iothub-errorcode']}`;
  }
  assert.fail('the call should have failed');
}

/** A device handler answering `status` with the request's payload and method name. */
export function echo(status: number) {
  return (request: DeviceMethodRequest, response: DeviceMethodResponse) => {
    response.send(status, { got: request.payload as unknown, name: request.methodName }, () => undefined);
  };
}

/** POST /twins/{id}/methods with any body (a string goes as is), as the service policy. */
export function rawInvoke(hub: HubProcess, deviceId: string, body: unknown) {
  return hubRequest(hub, 'POST', `/twins/${encodeURIComponent(deviceId)}/methods?api-version=2021-04-12`, {
    headers: { authorization: serviceSas(hub), 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The rid of a method request PUBLISH's topic ($iothub/methods/POST/{name}/?$rid={rid}). */
export function ridOf(topic: string): string {
  const rid = /\?\$rid=(.+)$/.exec(topic)?.[1];
  assert.ok(rid, `no $rid in ${topic}`);
  return rid;
}
