/** Hash routes (#/devices/dev1), so the hub serves one index.html for every page. */
import { useEffect, useState } from 'preact/hooks';

/** The tabs of a device's page; `messages` (C2D) is the one `#/devices/{id}` opens. */
export const DEVICE_TABS = ['messages', 'history', 'telemetry', 'twin', 'methods', 'dead-letters'] as const;
export type DeviceTab = (typeof DEVICE_TABS)[number];

/** Pages without a parameter, by their hash. */
const PLAIN_PAGES = ['devices', 'feedback', 'telemetry', 'jobs'] as const;

export type Route =
  | { page: 'overview' }
  | { page: (typeof PLAIN_PAGES)[number] }
  /** `messageId`: the message whose history the history tab shows (`#/devices/{id}/history/{messageId}`). */
  | { page: 'device'; deviceId: string; tab: DeviceTab; messageId?: string }
  /** A hash the console has no page for, malformed percent-encoding included (issue 23). */
  | { page: 'not-found'; hash: string };

/** Never throws: every hash is a page, or 'not-found'. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '').replace(/\/+$/, '');
  if (path === '') return { page: 'overview' };
  const [first, second, third, ...rest] = path.split('/');
  const plain = PLAIN_PAGES.find((p) => p === first);
  if (plain && second === undefined) return { page: plain };
  const deviceId = first === 'devices' && second ? decoded(second) : undefined;
  const tab = third === undefined ? 'messages' : DEVICE_TABS.find((t) => t === third);
  if (deviceId !== undefined && tab && rest.length === 0) return { page: 'device', deviceId, tab };
  const messageId = tab === 'history' && rest.length === 1 && rest[0] ? decoded(rest[0]) : undefined;
  if (deviceId !== undefined && messageId !== undefined) return { page: 'device', deviceId, tab: 'history', messageId };
  return { page: 'not-found', hash };
}

/** A percent-encoded segment, or undefined when it is not valid percent-encoding (`bad%zz`). */
function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function deviceHref(deviceId: string, tab: DeviceTab = 'messages'): string {
  const base = `#/devices/${encodeURIComponent(deviceId)}`;
  return tab === 'messages' ? base : `${base}/${tab}`;
}

/** The history tab showing one message's timeline. */
export function historyHref(deviceId: string, messageId: string): string {
  return `${deviceHref(deviceId, 'history')}/${encodeURIComponent(messageId)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
