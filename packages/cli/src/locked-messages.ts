/**
 * Why `ferry message receive` found nothing: a message locked by an earlier receive is invisible
 * until it is settled or its lock expires, as on IoT Hub. The hub's peek at a queue (a Ferry
 * extension, `GET /devices/{id}/messages/deviceBound/pending`, needing ServiceConnect) says
 * whether that is the case; without the rights (or the console) the answer is unknown.
 */
import { createSasToken } from '@ferry/common';
import { httpsCall } from '@ferry/common/client';
import type { HubTarget } from './target.js';

export interface LockedMessages {
  count: number;
  /** ISO 8601: when the first lock expires. */
  firstUnlock: string;
}

interface PendingJson {
  state: 'Enqueued' | 'Invisible';
  lockedUntilUtc: string | null;
}

/** The device's locked messages, or undefined when the hub would not say. */
export async function lockedMessages(target: HubTarget, deviceId: string): Promise<LockedMessages | undefined> {
  const { cs } = target;
  const authorization = createSasToken({
    resourceUri: cs.hostName,
    key: cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    expiry: Math.floor(Date.now() / 1000) + 300,
    encode: false,
  });
  try {
    const reply = await httpsCall(
      { host: cs.hostName, port: target.ports.https ?? 443, ca: target.ca },
      {
        method: 'GET',
        path: `/devices/${encodeURIComponent(deviceId)}/messages/deviceBound/pending?top=100`,
        authorization,
        timeoutMs: 10_000,
      },
    );
    if (reply.status !== 200) return undefined;
    const locked = (JSON.parse(reply.body.toString('utf8')) as PendingJson[]).filter((m) => m.state === 'Invisible');
    if (locked.length === 0) return { count: 0, firstUnlock: '' };
    const first = locked.map((m) => m.lockedUntilUtc ?? '').sort()[0]!;
    return { count: locked.length, firstUnlock: first };
  } catch {
    return undefined;
  }
}
