/** Hash routes (#/devices/dev1), so the hub serves one index.html for every page. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'overview' }
  | { page: 'devices' }
  | { page: 'device'; deviceId: string }
  | { page: 'feedback' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  if (parts[0] === 'devices' && parts[1]) return { page: 'device', deviceId: decodeURIComponent(parts[1]) };
  if (parts[0] === 'devices') return { page: 'devices' };
  if (parts[0] === 'feedback') return { page: 'feedback' };
  return { page: 'overview' };
}

export function deviceHref(deviceId: string): string {
  return `#/devices/${encodeURIComponent(deviceId)}`;
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
