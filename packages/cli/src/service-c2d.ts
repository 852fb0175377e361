import { randomUUID } from 'node:crypto';
/**
 * The service side of C2D over HTTPS with a ServiceConnect token: Ferry's send extension
 * (`POST /devices/{id}/messages/deviceBound`, see packages/hub/src/gateways/http/README.md),
 * purge, and the feedback queue.
 */
import type { Ack, FeedbackRecord } from '@ferry/common';
import { callHub, devicePath, type Hints, type HubTarget, ok, serviceToken } from './hub-http.js';
import { headerValue, shellArg } from './wire-text.js';

export interface SendRequest {
  body: Buffer;
  messageId?: string;
  correlationId?: string;
  contentType?: string;
  contentEncoding?: string;
  ack?: Ack;
  /** ISO 8601, passed to the hub as given (it checks the range). */
  expiry?: string;
  properties: Record<string, string>;
}

export interface ReceivedFeedback {
  lockToken: string;
  enqueuedTimeUtc: string | undefined;
  deliveryCount: number | undefined;
  records: FeedbackRecord[];
}

const SERVICE_HINTS: Hints = {
  IotHubUnauthorizedAccess:
    'Sending, purging and reading feedback need ServiceConnect: use the iothubowner or service connection string.',
};

function deviceHints(deviceId: string): Hints {
  const id = shellArg(deviceId);
  return {
    ...SERVICE_HINTS,
    DeviceNotFound: `Create it with \`npx ferry device create ${id}\` (\`npx ferry device list\` shows the devices; a disabled device takes no messages).`,
    DeviceMaximumQueueDepthExceeded: `The queue is full (c2d.maxQueueDepth, 50 by default, locked messages included): let the device take messages (\`npx ferry message receive ${id} --complete\`) or purge with \`npx ferry message purge ${id}\`.`,
    MessageTooLarge:
      'The limit is c2d.maxMessageSize (64 KiB by default), counting the body, the message id and the properties.',
    InvalidMessageExpiryTime:
      'Give an --expiry in the future and at most c2d.maxTtl (2 days by default) away, or a --ttl in seconds.',
  };
}

/** The lock token in an ETag, `"<token>"`. */
export function etagToken(etag: string | undefined): string | undefined {
  if (!etag) return undefined;
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class ServiceC2d {
  constructor(private readonly target: HubTarget) {}

  private auth(): string {
    return serviceToken(this.target.cs);
  }

  /** Queues a message; resolves with its message id (the given one, or a new UUID: decision 5). */
  async send(deviceId: string, m: SendRequest): Promise<string> {
    const messageId = m.messageId ?? randomUUID();
    const headers: Record<string, string> = {};
    const set = (name: string, value: string | undefined) => {
      if (value !== undefined) headers[name] = headerValue(value);
    };
    set('iothub-messageid', messageId);
    set('iothub-correlationid', m.correlationId);
    set('iothub-ack', m.ack);
    set('iothub-expiry', m.expiry);
    set('content-type', m.contentType);
    set('content-encoding', m.contentEncoding);
    for (const [name, value] of Object.entries(m.properties)) set(`iothub-app-${name}`, value);
    const reply = await callHub(this.target, {
      method: 'POST',
      path: `${devicePath(deviceId)}/messages/deviceBound`,
      authorization: this.auth(),
      headers,
      body: m.body,
    });
    ok(reply, deviceHints(deviceId));
    return messageId;
  }

  /** Deletes every message of the device's queue, locked ones included; resolves with the count. */
  async purge(deviceId: string): Promise<number> {
    const reply = await callHub(this.target, {
      method: 'DELETE',
      path: `${devicePath(deviceId)}/commands`,
      authorization: this.auth(),
    });
    ok(reply, deviceHints(deviceId));
    return (JSON.parse(reply.body.toString('utf8')) as { totalMessagesPurged: number }).totalMessagesPurged;
  }

  /** Leases the next feedback batch; undefined when there is none. */
  async receiveFeedback(): Promise<ReceivedFeedback | undefined> {
    const reply = await callHub(this.target, {
      method: 'GET',
      path: '/messages/serviceBound/feedback',
      authorization: this.auth(),
    });
    ok(reply, SERVICE_HINTS);
    if (reply.status === 204) return undefined;
    const lockToken = etagToken(one(reply.headers.etag));
    if (!lockToken) throw new Error('the hub sent a feedback batch without an ETag (lock token)');
    const count = one(reply.headers['iothub-deliverycount']);
    return {
      lockToken,
      enqueuedTimeUtc: one(reply.headers['iothub-enqueuedtime']),
      deliveryCount: count === undefined ? undefined : Number(count),
      records: JSON.parse(reply.body.toString('utf8')) as FeedbackRecord[],
    };
  }

  async completeFeedback(lockToken: string): Promise<void> {
    const reply = await callHub(this.target, {
      method: 'DELETE',
      path: `/messages/serviceBound/feedback/${encodeURIComponent(lockToken)}`,
      authorization: this.auth(),
    });
    ok(reply, {
      ...SERVICE_HINTS,
      DeviceMessageLockLost:
        "The batch's lock expired (feedback.lockDurationMs, 60 s by default), so the hub offers it again: run `npx ferry feedback` again.",
    });
  }
}
