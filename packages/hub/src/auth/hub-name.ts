import { isIP } from 'node:net';

/**
 * The IoT hub name for a host: its first DNS label (`myhub.azure-devices.net` -> `myhub`), or the
 * whole address for an IP literal (`127.0.0.2`, `::1`). A `:port` suffix and IPv6 brackets are
 * dropped first. Used where Azure writes the hub name, e.g. SASL PLAIN `{deviceId}@sas.{hubName}`.
 */
export function hubNameOf(host: string): string {
  let h = host.trim();
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (bracketed) h = bracketed[1]!;
  else if (isIP(h) === 0) h = h.replace(/:\d*$/, '');
  if (isIP(h) !== 0) return h;
  const dot = h.indexOf('.');
  return dot < 0 ? h : h.slice(0, dot);
}
