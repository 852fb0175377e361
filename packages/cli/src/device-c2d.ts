/**
 * The device side of C2D over HTTPS, as the device SDK's HTTP transport does it: the device's
 * own SAS token (its primary key is read from the registry with the caller's policy), then
 * GET / DELETE / POST abandon on `/devices/{id}/messages/deviceBound`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { callHub, devicePath, deviceToken, type Hints, type HubReply, type HubTarget, ok } from './hub-http.js';
import { CliError } from './io.js';
import { RegistryClient } from './registry-client.js';
import { etagToken } from './service-c2d.js';
import { fromHeaderName, fromHeaderValue, shellArg } from './wire-text.js';

export type Settlement = 'complete' | 'reject' | 'abandon';

export interface ReceivedMessage {
  deviceId: string;
  lockToken: string;
  messageId?: string;
  correlationId?: string;
  userId?: string;
  ack: string;
  /** ISO 8601 as the hub sent it. */
  expiryTimeUtc?: string;
  enqueuedTimeUtc?: string;
  deliveryCount: number;
  sequenceNumber?: number;
  contentType?: string;
  contentEncoding?: string;
  properties: Record<string, string>;
  body: Buffer;
}

const APP_PREFIX = 'iothub-app-';

function text(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v.join(', ') : v;
  return s === undefined || s === '' ? undefined : fromHeaderValue(s);
}

function count(headers: IncomingHttpHeaders, name: string): number | undefined {
  const s = text(headers, name);
  return s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined;
}

/** A 200 answer of GET .../messages/deviceBound as a message (headers as in the hub's deliveryHeaders). */
export function messageFromReply(deviceId: string, reply: HubReply): ReceivedMessage {
  const { headers } = reply;
  const lockToken = etagToken(text(headers, 'etag'));
  if (!lockToken) throw new CliError('the hub sent a message without an ETag (lock token)');
  const properties: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    if (name.startsWith(APP_PREFIX))
      properties[fromHeaderName(name.slice(APP_PREFIX.length))] = text(headers, name) ?? '';
  }
  return {
    deviceId,
    lockToken,
    messageId: text(headers, 'iothub-messageid'),
    correlationId: text(headers, 'iothub-correlationid'),
    userId: text(headers, 'iothub-userid'),
    ack: text(headers, 'iothub-ack') ?? 'none',
    expiryTimeUtc: text(headers, 'iothub-expiry'),
    enqueuedTimeUtc: text(headers, 'iothub-enqueuedtime'),
    deliveryCount: count(headers, 'iothub-deliverycount') ?? 0,
    sequenceNumber: count(headers, 'iothub-sequencenumber'),
    // `Content-Type` falls back to application/octet-stream; `ContentType` is the message's own.
    contentType: text(headers, 'contenttype'),
    contentEncoding: text(headers, 'contentencoding'),
    properties,
    body: reply.body,
  };
}

export class DeviceC2d {
  private constructor(
    private readonly target: HubTarget,
    private readonly deviceId: string,
    private readonly key: string,
  ) {}

  /** Looks the device's primary key up in the registry (needs RegistryRead) and acts as that device. */
  static async open(target: HubTarget, deviceId: string): Promise<DeviceC2d> {
    const registry = new RegistryClient(target, {
      DeviceNotFound: `Create it with \`npx ferry device create ${shellArg(deviceId)}\`.`,
      IotHubUnauthorizedAccess:
        'Acting as the device needs its key from the registry: use the iothubowner or registryRead connection string.',
    });
    const device = await registry.get(deviceId);
    const key = device.authentication?.symmetricKey?.primaryKey;
    if (!key) throw new CliError(`device ${deviceId} has no symmetric key, so the CLI cannot act as it`);
    return new DeviceC2d(target, deviceId, key);
  }

  private hints(): Hints {
    const id = shellArg(this.deviceId);
    return {
      DeviceMessageLockLost: `The lock expired (c2d.lockTimeoutMs, 60 s by default) or the message was settled already; receive it again with \`npx ferry message receive ${id}\`.`,
      IotHubUnauthorizedAccess: `The device's key was refused; is the device disabled? (\`npx ferry device show ${id}\`)`,
      DeviceDisabled: `Devices that are disabled cannot receive; \`npx ferry device show ${id}\` shows its status.`,
    };
  }

  private call(method: string, suffix: string): Promise<HubReply> {
    return callHub(this.target, {
      method,
      path: `${devicePath(this.deviceId)}/messages/deviceBound${suffix}`,
      authorization: deviceToken(this.target.cs.hostName, this.deviceId, this.key),
    });
  }

  /** Leases the next message; undefined when the queue has none ready. */
  async receive(): Promise<ReceivedMessage | undefined> {
    const reply = ok(await this.call('GET', ''), this.hints());
    return reply.status === 204 ? undefined : messageFromReply(this.deviceId, reply);
  }

  async settle(lockToken: string, how: Settlement): Promise<void> {
    const token = `/${encodeURIComponent(lockToken)}`;
    const reply =
      how === 'abandon'
        ? await this.call('POST', `${token}/abandon`)
        : await this.call('DELETE', how === 'reject' ? `${token}?reject` : token);
    ok(reply, this.hints());
  }
}
