/** Ferry's HTTPS send extension: POST /devices/{id}/messages/deviceBound with a ServiceConnect SAS. */
import assert from 'node:assert/strict';
import { type HubProcess, hubRequest } from '../harness.js';
import { serviceSas } from './auth.js';
import type { RawResponse } from './hub-error.js';

export const API = 'api-version=2021-04-12';

export interface SendOptions {
  body?: string | Buffer;
  messageId?: string;
  correlationId?: string;
  /** none | positive | negative | full, or anything for bad-input tests. */
  ack?: string;
  /** ISO 8601 expiry (header iothub-expiry). */
  expiry?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Application properties, sent as `iothub-app-<name>` headers. */
  properties?: Record<string, string>;
  /** Replaces the Authorization header (default: a valid `service` policy token). */
  authorization?: string;
  /** Replaces the query string (default api-version=2021-04-12). */
  query?: string;
}

export function sendPath(deviceId: string, query = API): string {
  return `/devices/${encodeURIComponent(deviceId)}/messages/deviceBound${query ? `?${query}` : ''}`;
}

export async function sendRaw(hub: HubProcess, deviceId: string, o: SendOptions = {}): Promise<RawResponse> {
  const headers: Record<string, string> = { authorization: o.authorization ?? serviceSas(hub) };
  if (o.messageId !== undefined) headers['iothub-messageid'] = o.messageId;
  if (o.correlationId !== undefined) headers['iothub-correlationid'] = o.correlationId;
  if (o.ack !== undefined) headers['iothub-ack'] = o.ack;
  if (o.expiry !== undefined) headers['iothub-expiry'] = o.expiry;
  if (o.contentType !== undefined) headers['content-type'] = o.contentType;
  if (o.contentEncoding !== undefined) headers['content-encoding'] = o.contentEncoding;
  for (const [name, value] of Object.entries(o.properties ?? {})) headers[`iothub-app-${name}`] = value;
  return hubRequest(hub, 'POST', sendPath(deviceId, o.query ?? API), { headers, body: o.body ?? '' });
}

/** Sends and asserts the 204 and its iothub-messageid: the one sent, or none (the hub makes none up). */
export async function send(hub: HubProcess, deviceId: string, o: SendOptions = {}): Promise<void> {
  const res = await sendRaw(hub, deviceId, o);
  assert.equal(
    res.status,
    204,
    `send to ${deviceId}: expected 204, got ${res.status} ${res.body.toString('utf8').slice(0, 300)}`,
  );
  assert.equal(res.headers['iothub-messageid'], o.messageId, 'the send answer carries the message id sent, if any');
}
