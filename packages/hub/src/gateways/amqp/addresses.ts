/**
 * Link addresses IoT Hub serves over AMQP (c2d-semantics.md 8.2), matched case-insensitively
 * (the official service SDK spells the feedback source `/messages/serviceBound/feedback`, the
 * C# one `/messages/servicebound/feedback`). A full `amqps://host[:port]/path` is accepted too.
 */
import { FerryError } from '@ferry/common';
import type { Receiver, Sender } from 'rhea';
import type { Operation } from '../../auth/types.js';

export type LinkAddress =
  | { kind: 'cbs' }
  | { kind: 'service-send' }
  | { kind: 'feedback' }
  | { kind: 'file-notifications' }
  | { kind: 'device-bound'; deviceId: string }
  | { kind: 'device-events'; deviceId: string }
  | { kind: 'device-twin'; deviceId: string }
  | { kind: 'device-methods'; deviceId: string }
  /** The Event Hubs-compatible endpoint's management node (event-hubs/). */
  | { kind: 'eh-management' }
  /** A partition of the built-in endpoint, read by a consumer group (event-hubs/). */
  | { kind: 'eh-partition'; entity: string; group: string; partition: string }
  /** The built-in endpoint as IoT Hub's own `messages/events` path: redirected to the Event Hubs names (event-hubs/). */
  | { kind: 'iothub-events'; rest: string }
  /** deviceId: the address is under `/devices/{deviceId}/`, so only that device may learn it is not served. */
  | { kind: 'unknown'; address: string; deviceId?: string };

function pathOf(address: string): string {
  const m = /^amqps?:\/\/[^/]*(\/.*)?$/i.exec(address);
  const path = m ? (m[1] ?? '/') : address;
  return path.replace(/\/+$/, '');
}

export function parseLinkAddress(address: unknown): LinkAddress {
  if (typeof address !== 'string' || address === '') return { kind: 'unknown', address: String(address ?? '') };
  if (address === '$cbs') return { kind: 'cbs' };
  if (address === '$management') return { kind: 'eh-management' };
  const path = pathOf(address);
  const lower = path.toLowerCase();
  if (lower === '/messages/devicebound') return { kind: 'service-send' };
  if (lower === '/messages/servicebound/feedback') return { kind: 'feedback' };
  if (lower === '/messages/servicebound/filenotifications') return { kind: 'file-notifications' };
  // The device SDK puts the raw device id in its link address (official-sdk-wire.md G.15).
  const m = /^\/devices\/([^/]+)\/messages\/(devicebound|events)$/i.exec(path);
  if (m) {
    const deviceId = m[1]!;
    return m[2]!.toLowerCase() === 'devicebound'
      ? { kind: 'device-bound', deviceId }
      : { kind: 'device-events', deviceId };
  }
  const twin = /^\/devices\/([^/]+)\/twin$/i.exec(path);
  if (twin) return { kind: 'device-twin', deviceId: twin[1]! };
  const methods = /^\/devices\/([^/]+)\/methods\/devicebound$/i.exec(path);
  if (methods) return { kind: 'device-methods', deviceId: methods[1]! };
  const events = /^\/?messages\/events(\/.*)?$/i.exec(path);
  if (events) return { kind: 'iothub-events', rest: events[1] ?? '' };
  const eh = /^\/?([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i.exec(path);
  if (eh) return { kind: 'eh-partition', entity: eh[1]!, group: eh[2]!, partition: eh[3]! };
  const under = /^\/devices\/([^/]+)\//i.exec(path);
  return under ? { kind: 'unknown', address, deviceId: under[1]! } : { kind: 'unknown', address };
}

/** The address of a link the peer attached: its source when the hub sends on it, else its target. */
export function linkAddressOf(link: Sender | Receiver): LinkAddress {
  return parseLinkAddress(link.is_sender() ? link.source?.address : link.target?.address);
}

/**
 * What attaching to `address` needs, in either direction (DESIGN.md "Growing past C2D", issue 23):
 * checked before anything else is said about the link, so an address Ferry does not serve, or
 * not in that direction, is refused as such only to a caller who could have used it.
 * 'none': $cbs (where tokens are put); 'any-credential': some valid token or SASL principal.
 */
export function linkRequirement(address: LinkAddress): Operation | 'none' | 'any-credential' {
  switch (address.kind) {
    case 'cbs':
      return 'none';
    case 'service-send':
    case 'feedback':
    case 'file-notifications':
      return { permission: 'ServiceConnect' };
    case 'iothub-events':
      // @azure/event-hubs signs sb://host/messages/events/$management, or a prefix of it.
      return { permission: 'ServiceConnect', path: `/messages/events${address.rest}` };
    case 'eh-management':
      // Each request names its event hub and is authorized for it (event-hubs/management.ts).
      return 'any-credential';
    case 'eh-partition':
      // The token signs sb://host/{hub}/ConsumerGroups/{group}/Partitions/{n}, or a prefix of it.
      return {
        permission: 'ServiceConnect',
        path: `/${address.entity}/ConsumerGroups/${address.group}/Partitions/${address.partition}`,
      };
    case 'device-bound':
    case 'device-events':
    case 'device-twin':
    case 'device-methods':
      return { permission: 'DeviceConnect', deviceId: address.deviceId };
    case 'unknown':
      return address.deviceId === undefined
        ? 'any-credential'
        : { permission: 'DeviceConnect', deviceId: address.deviceId };
  }
}

/**
 * The device a service message is for: `to` = `/devices/{url-encoded id}/messages/devicebound`.
 * Throws FerryError ArgumentInvalid when `to` is missing or has another shape.
 */
export function deviceIdFromTo(to: unknown): string {
  if (typeof to !== 'string' || to === '') {
    throw new FerryError(
      'ArgumentInvalid',
      'The message has no "to" property; expected /devices/{deviceId}/messages/devicebound',
    );
  }
  const end = deviceIdEnd(to);
  if (end === -1)
    throw new FerryError(
      'ArgumentInvalid',
      `"to" must be /devices/{deviceId}/messages/devicebound, got "${to.slice(0, 200)}"`,
    );
  const encoded = to.slice(DEVICES.length, end);
  // Without a % there is nothing to decode (per message: no regex match, no decoded copy).
  if (!encoded.includes('%')) return encoded;
  try {
    return decodeURIComponent(encoded);
  } catch (cause) {
    throw new FerryError(
      'ArgumentInvalid',
      `"to" holds a device id that is not valid percent-encoding: "${to.slice(0, 200)}"`,
      { cause },
    );
  }
}

const DEVICES = '/devices/';
const DEVICEBOUND = '/messages/devicebound';

/**
 * Where the device id of a service message's `to` ends: `/devices/{id}/messages/devicebound` with
 * an optional final slash, the words in any case, the id not empty and without a slash (what
 * /^\/devices\/([^/]+)\/messages\/devicebound\/?$/i matches, without the match array); -1 when it
 * has another shape.
 */
function deviceIdEnd(to: string): number {
  if (!startsWithAnyCase(to, DEVICES, 0)) return -1;
  const end = to.indexOf('/', DEVICES.length);
  if (end <= DEVICES.length || !startsWithAnyCase(to, DEVICEBOUND, end)) return -1;
  const rest = to.length - end - DEVICEBOUND.length;
  return rest === 0 || (rest === 1 && to.charCodeAt(to.length - 1) === 0x2f) ? end : -1;
}

/** Whether `s` holds `word` (lower case ASCII letters and slashes) at `at`, ASCII letters in any case. */
function startsWithAnyCase(s: string, word: string, at: number): boolean {
  if (s.length - at < word.length) return false;
  for (let i = 0; i < word.length; i++) {
    const c = s.charCodeAt(at + i);
    const w = word.charCodeAt(i);
    if (c !== w && !(w >= 0x61 && w <= 0x7a && c === w - 0x20)) return false;
  }
  return true;
}
