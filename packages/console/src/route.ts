/** Hash routes (#/devices/dev1), so the hub serves one index.html for every page. */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'overview' }
  | { page: 'devices' }
  | { page: 'device'; deviceId: string }
  | { page: 'feedback' }
  /** A hash the console has no page for, malformed percent-encoding included (issue 23). */
  | { page: 'not-found'; hash: string };

/** Never throws: every hash is a page, or 'not-found'. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '').replace(/\/+$/, '');
  if (path === '') return { page: 'overview' };
  const [first, second, ...rest] = path.split('/');
  if (rest.length === 0) {
    if (first === 'devices' && second === undefined) return { page: 'devices' };
    if (first === 'feedback' && second === undefined) return { page: 'feedback' };
    const deviceId = first === 'devices' && second ? decoded(second) : undefined;
    if (deviceId !== undefined) return { page: 'device', deviceId };
  }
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
