/**
 * The hub's REST API as the console uses it: every call signed with a SAS token made in the
 * browser from the policy's key, sent to the origin the page came from. A refusal becomes an
 * ApiError carrying IoT Hub's error code, for the page to show.
 */
import { ERRORS } from '@ferry/common/errors';
import { createSasToken, type PolicyConnection } from './sas.js';

export const API_VERSION = '2021-04-12';
const TOKEN_LIFETIME_S = 3600;
/** A token is renewed this long before it expires. */
const RENEW_MARGIN_S = 300;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** IoT Hub's error name (iothub-errorcode), e.g. IotHubUnauthorizedAccess. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** IoT Hub's six-digit code for `code` (404103 for DeviceNotOnline), when the table has it. */
  get numericCode(): number | undefined {
    return (ERRORS as Record<string, { code: number }>)[this.code]?.code;
  }
}

export type Right = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

export interface Device {
  deviceId: string;
  etag: string;
  status: 'enabled' | 'disabled';
  statusReason: string | null;
  connectionState: 'Connected' | 'Disconnected';
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: {
    type: string;
    symmetricKey: { primaryKey: string | null; secondaryKey: string | null };
  };
}

export interface PendingMessage {
  sequenceNumber: number;
  messageId: string | null;
  correlationId: string | null;
  contentType: string | null;
  ack: string;
  state: 'Enqueued' | 'Invisible';
  deliveryCount: number;
  enqueuedTimeUtc: string;
  expiryTimeUtc: string;
  properties: Record<string, string>;
  bodySize: number;
  bodyPreview: string;
}

/** A dead-lettered C2D message (Ferry extension): the pending peek's shape with why and when. */
export interface DeadLetter extends Omit<PendingMessage, 'state'> {
  state: 'DeadLettered';
  /** Rejected, Expired, DeliveryCountExceeded or Purged */
  reason: string;
  deadLetteredTimeUtc: string;
}

export interface MethodCall {
  methodName: string;
  payload: unknown;
  responseTimeoutInSeconds: number;
  connectTimeoutInSeconds: number;
}

export interface HubInfo {
  hubName: string;
  hosts: string[];
  caFile: string | null;
  caller: { policyName: string; rights: Right[] };
  policies: Array<{ keyName: string; rights: Right[]; connectionString: string }>;
  c2d: { maxQueueDepth: number; maxTtlMs: number; defaultTtlMs: number };
}

export interface OutgoingC2d {
  body: string;
  contentType?: string;
  messageId?: string;
  correlationId?: string;
  ack?: string;
  /** ISO 8601 */
  expiry?: string;
  properties: Array<[string, string]>;
}

/** Header values are bytes: UTF-8 text goes as its bytes, which the hub decodes back. */
function headerValue(text: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(text)) out += String.fromCharCode(b);
  return out;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** True when `name` can travel as an iothub-app- header. */
export function isPropertyName(name: string): boolean {
  return TOKEN.test(name);
}

export class HubApi {
  private token: { value: string; expiry: number } | undefined;

  constructor(readonly connection: PolicyConnection) {}

  /** A token for the whole hub (sr = host), reused until shortly before it expires. */
  async authorization(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    if (!this.token || this.token.expiry - RENEW_MARGIN_S < now) {
      const expiry = now + TOKEN_LIFETIME_S;
      const { hostName, key, keyName } = this.connection;
      this.token = {
        value: await createSasToken({ resourceUri: hostName, key, keyName, expiry, encode: false }),
        expiry,
      };
    }
    return this.token.value;
  }

  url(path: string, query: Record<string, string | undefined> = {}): string {
    const q = new URLSearchParams({ 'api-version': API_VERSION });
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
    return `${path}?${q}`;
  }

  async call(
    method: string,
    path: string,
    opts: {
      query?: Record<string, string | undefined>;
      headers?: Record<string, string>;
      body?: string | Blob;
      signal?: AbortSignal;
    } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: await this.authorization(), ...opts.headers };
    let res: Response;
    try {
      res = await fetch(this.url(path, opts.query), {
        method,
        headers,
        body: opts.body,
        cache: 'no-store',
        signal: opts.signal,
      });
    } catch (err) {
      throw new ApiError(0, 'NetworkError', `The hub did not answer: ${(err as Error).message}`);
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  async json<T>(method: string, path: string, opts: Parameters<HubApi['call']>[2] = {}): Promise<T> {
    return (await (await this.call(method, path, opts)).json()) as T;
  }

  hubInfo(): Promise<HubInfo> {
    return this.json('GET', '/hubInfo');
  }

  async listDevices(opts: { top: number; contains?: string; continuation?: string }) {
    const res = await this.call('GET', '/devices', {
      query: { top: String(opts.top), contains: opts.contains },
      headers: opts.continuation ? { 'x-ms-continuation': opts.continuation } : {},
    });
    return { devices: (await res.json()) as Device[], next: res.headers.get('x-ms-continuation') ?? undefined };
  }

  /** IoT Hub's registry statistics (RegistryRead). */
  deviceStatistics(): Promise<{ totalDeviceCount: number; enabledDeviceCount: number; disabledDeviceCount: number }> {
    return this.json('GET', '/statistics/devices');
  }

  getDevice(id: string): Promise<Device> {
    return this.json('GET', `/devices/${encodeURIComponent(id)}`);
  }

  /** Creates (etag undefined) or updates (If-Match etag) a device. */
  putDevice<T extends { deviceId: string }>(device: T, etag?: string): Promise<Device> {
    return this.json('PUT', `/devices/${encodeURIComponent(device.deviceId)}`, {
      headers: { 'content-type': 'application/json; charset=utf-8', ...(etag ? { 'if-match': `"${etag}"` } : {}) },
      body: JSON.stringify(device),
    });
  }

  async deleteDevice(id: string): Promise<void> {
    await this.call('DELETE', `/devices/${encodeURIComponent(id)}`, { headers: { 'if-match': '*' } });
  }

  pending(id: string): Promise<PendingMessage[]> {
    return this.json('GET', `/devices/${encodeURIComponent(id)}/messages/deviceBound/pending`);
  }

  async purge(id: string): Promise<number> {
    const r = await this.json<{ totalMessagesPurged: number }>('DELETE', `/devices/${encodeURIComponent(id)}/commands`);
    return r.totalMessagesPurged;
  }

  deadLetters(id: string): Promise<DeadLetter[]> {
    return this.json('GET', `/devices/${encodeURIComponent(id)}/messages/deviceBound/deadLetters`);
  }

  /** Puts a dead letter back at the tail of the queue; resolves with its new sequence number. */
  async requeueDeadLetter(id: string, sequenceNumber: number): Promise<number> {
    const path = `/devices/${encodeURIComponent(id)}/messages/deviceBound/deadLetters/${sequenceNumber}/requeue`;
    return (await this.json<{ sequenceNumber: number }>('POST', path)).sequenceNumber;
  }

  async deleteDeadLetter(id: string, sequenceNumber: number): Promise<void> {
    await this.call('DELETE', `/devices/${encodeURIComponent(id)}/messages/deviceBound/deadLetters/${sequenceNumber}`);
  }

  /** A direct method; resolves with the device's answer, or fails with IoT Hub's error (DeviceNotOnline, GatewayTimeout...). */
  invokeMethod(id: string, call: MethodCall): Promise<{ status: number; payload: unknown }> {
    return this.json('POST', `/twins/${encodeURIComponent(id)}/methods`, {
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(call),
    });
  }

  /** Ferry's HTTPS send; resolves with the message id ('' when none) once the hub committed the message. */
  async send(id: string, m: OutgoingC2d): Promise<string> {
    const headers: Record<string, string> = {};
    // A Blob without a type goes without Content-Type (a string body would get text/plain).
    if (m.contentType) headers['content-type'] = m.contentType;
    if (m.messageId) headers['iothub-messageid'] = headerValue(m.messageId);
    if (m.correlationId) headers['iothub-correlationid'] = headerValue(m.correlationId);
    if (m.ack && m.ack !== 'none') headers['iothub-ack'] = m.ack;
    if (m.expiry) headers['iothub-expiry'] = m.expiry;
    for (const [name, value] of m.properties) headers[`iothub-app-${name}`] = headerValue(value);
    const res = await this.call('POST', `/devices/${encodeURIComponent(id)}/messages/deviceBound`, {
      headers,
      body: new Blob([m.body]),
    });
    return res.headers.get('iothub-messageid') ?? '';
  }
}

/** IoT Hub's error envelope: iothub-errorcode and `Message: ErrorCode:<Name>;<text>`. */
async function errorOf(res: Response): Promise<ApiError> {
  let code = res.headers.get('iothub-errorcode') ?? '';
  let text = res.statusText;
  try {
    const body = (await res.json()) as { Message?: string };
    const m = /^ErrorCode:([^;]*);(.*)$/s.exec(body.Message ?? '');
    if (m) {
      code ||= m[1]!;
      text = m[2]!;
    } else if (body.Message) text = body.Message;
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(res.status, code || `HTTP${res.status}`, text);
}
