/** The CONNECT username: `{host}/{clientId}/?{query}` (official-sdk-wire.md A, "CONNECT"). */

/** Host without port, lower case: `Example.com:8883` -> `example.com`, `[::1]:8883` -> `[::1]`. */
export function bareHost(hostAndPort: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(hostAndPort);
  return (m ? m[1]! : hostAndPort).toLowerCase();
}

export type UsernameCheck = { ok: true } | { ok: false; why: string };

/**
 * The host must be one of the hub's (with or without a port, any case); after it comes the
 * client id, then the end, `/`, or `/?query`. The query (api-version, DeviceClientType, model-id)
 * is ignored: every client sends something different there.
 */
export function checkUsername(username: string, clientId: string, hosts: readonly string[]): UsernameCheck {
  const slash = username.indexOf('/');
  if (slash <= 0) return { ok: false, why: 'the username must be {host}/{deviceId}/?api-version=...' };
  const host = bareHost(username.slice(0, slash));
  if (hosts.length > 0 && !hosts.some((h) => bareHost(h) === host)) {
    return { ok: false, why: `the username names host "${username.slice(0, slash)}", which is not this hub's` };
  }
  const rest = username.slice(slash + 1);
  if (rest !== clientId && !rest.startsWith(`${clientId}/`)) {
    return { ok: false, why: 'the device id in the username does not match the client id' };
  }
  return { ok: true };
}
