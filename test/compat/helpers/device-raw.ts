/** The device HTTPS C2D endpoints driven by hand (spec c2d-semantics.md 7.2), for tests that control timing and tokens. */
import assert from 'node:assert/strict';
import { type HubProcess, hubRequest } from '../harness.js';
import { deviceIdOf, deviceSas } from './auth.js';
import type { RawResponse } from './hub-error.js';
import { API } from './send.js';

export interface RawC2dMessage {
  lockToken: string;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

function base(deviceId: string): string {
  return `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`;
}

export interface DeviceCall {
  /** Replaces the Authorization header (default: a valid token for the device). */
  authorization?: string;
  /** Replaces the query string (default api-version=2021-04-12). */
  query?: string;
  /** Address another device's endpoints with this device's credentials. */
  deviceId?: string;
}

export async function receiveRaw(hub: HubProcess, deviceCs: string, c: DeviceCall = {}): Promise<RawResponse> {
  const id = c.deviceId ?? deviceIdOf(deviceCs);
  const q = c.query ?? API;
  return hubRequest(hub, 'GET', `${base(id)}${q ? `?${q}` : ''}`, {
    headers: { authorization: c.authorization ?? deviceSas(deviceCs), 'iothub-to': base(id) },
  });
}

/** One message (200) or undefined (204); anything else fails the test. */
export async function receive(hub: HubProcess, deviceCs: string): Promise<RawC2dMessage | undefined> {
  const res = await receiveRaw(hub, deviceCs);
  if (res.status === 204) return undefined;
  assert.equal(
    res.status,
    200,
    `device receive: expected 200 or 204, got ${res.status} ${res.body.toString('utf8').slice(0, 300)}`,
  );
  const etag = res.headers.etag;
  assert.equal(typeof etag, 'string', 'a received message carries an ETag');
  assert.match(etag as string, /^".+"$/, 'the ETag is quoted (the SDK strips the first and last character)');
  return { lockToken: (etag as string).slice(1, -1), body: res.body, headers: res.headers };
}

export type Settlement = 'complete' | 'reject' | 'abandon';

export async function settleRaw(
  hub: HubProcess,
  deviceCs: string,
  how: Settlement,
  lockToken: string,
  c: DeviceCall = {},
): Promise<RawResponse> {
  const id = c.deviceId ?? deviceIdOf(deviceCs);
  const q = c.query ?? API;
  const qs = q ? `?${q}` : '';
  const headers = { authorization: c.authorization ?? deviceSas(deviceCs), 'if-match': lockToken };
  if (how === 'abandon') return hubRequest(hub, 'POST', `${base(id)}/${lockToken}/abandon${qs}`, { headers, body: '' });
  return hubRequest(
    hub,
    'DELETE',
    `${base(id)}/${lockToken}${qs}${how === 'reject' ? (qs ? '&reject' : '?reject') : ''}`,
    { headers },
  );
}

export async function settle(hub: HubProcess, deviceCs: string, how: Settlement, lockToken: string): Promise<void> {
  const res = await settleRaw(hub, deviceCs, how, lockToken);
  assert.equal(
    res.status,
    204,
    `device ${how}: expected 204, got ${res.status} ${res.body.toString('utf8').slice(0, 300)}`,
  );
}
