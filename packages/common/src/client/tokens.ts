/** SAS tokens as the official clients make them, and when to renew them (official-sdk-wire.md 1.2). */
import type { DeviceConnectionString, HubConnectionString } from '../connection-string.js';
import { FerryError } from '../errors.js';
import { createSasToken, parseSasToken } from '../sas.js';

export interface TokenSource {
  /** The `sr` as written in the tokens: the CBS audience. */
  readonly audience: string;
  /** A token valid for the configured lifetime from now (or the connection string's fixed one). */
  token(): string;
  /** When the current token should be replaced, ms from now; undefined when it cannot be renewed. */
  renewInMs(): number | undefined;
}

/** Tokens live an hour by default and are renewed when three quarters of that has passed. */
export const DEFAULT_TOKEN_LIFETIME_S = 3600;

function encodeStrict(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
}

function keyed(audience: string, make: (expiry: number) => string, lifetimeS: number): TokenSource {
  let expiresAt = 0;
  return {
    audience,
    token() {
      const expiry = Math.ceil(Date.now() / 1000) + lifetimeS;
      expiresAt = expiry * 1000;
      return make(expiry);
    },
    renewInMs() {
      return Math.max(0, expiresAt - Date.now() - (lifetimeS * 1000) / 4);
    },
  };
}

/** A device's token: sr = encodeURIComponent(host/devices/id), no skn unless the string names a key. */
export function deviceTokenSource(cs: DeviceConnectionString, lifetimeS = DEFAULT_TOKEN_LIFETIME_S): TokenSource {
  const resource = `${cs.hostName}/devices/${cs.deviceId}${cs.moduleId ? `/modules/${cs.moduleId}` : ''}`;
  if (cs.sharedAccessSignature) {
    const fixed = cs.sharedAccessSignature;
    return { audience: parseSasToken(fixed).srRaw, token: () => fixed, renewInMs: () => undefined };
  }
  const key = cs.sharedAccessKey;
  if (!key)
    throw new FerryError(
      'ArgumentInvalid',
      'The device connection string has no SharedAccessKey or SharedAccessSignature (X.509 is not supported by this SDK yet)',
    );
  return keyed(
    encodeStrict(resource),
    (expiry) => createSasToken({ resourceUri: resource, key, keyName: cs.sharedAccessKeyName, expiry }),
    lifetimeS,
  );
}

/** A shared access policy's token: sr = the raw host name, skn = the policy. */
export function serviceTokenSource(cs: HubConnectionString, lifetimeS = DEFAULT_TOKEN_LIFETIME_S): TokenSource {
  return keyed(
    cs.hostName,
    (expiry) =>
      createSasToken({
        resourceUri: cs.hostName,
        key: cs.sharedAccessKey,
        keyName: cs.sharedAccessKeyName,
        expiry,
        encode: false,
      }),
    lifetimeS,
  );
}

/** `host:port` of a HostName: the port only when written into it. */
export function splitHostName(hostName: string): { host: string; port: number | undefined } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hostName);
  if (!m) return { host: hostName, port: undefined };
  const host = m[1]!.replace(/^\[|\]$/g, '');
  return { host, port: m[2] === undefined ? undefined : Number(m[2]) };
}
