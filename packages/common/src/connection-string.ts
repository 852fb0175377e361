/** Hub (service) and device connection strings: parse and format. */
import { FerryError } from './errors.js';

export interface HubConnectionString {
  hostName: string;
  sharedAccessKeyName: string;
  sharedAccessKey: string;
}

export interface DeviceConnectionString {
  hostName: string;
  deviceId: string;
  moduleId?: string;
  gatewayHostName?: string;
  sharedAccessKey?: string;
  sharedAccessKeyName?: string;
  sharedAccessSignature?: string;
  x509?: boolean;
}

function invalid(kind: string, why: string): FerryError {
  return new FerryError('ArgumentInvalid', `Invalid ${kind} connection string: ${why}`);
}

/**
 * `Key=value;Key=value`, each pair split on its FIRST '=' because base64 keys and SAS tokens
 * end in '='. Keys are case-sensitive, as in the official SDKs; empty pieces (a trailing ';')
 * are skipped; unknown keys are kept here and ignored by the callers, as the SDKs do.
 */
function splitPairs(kind: string, cs: string): Map<string, string> {
  if (typeof cs !== 'string' || cs.trim() === '') throw invalid(kind, 'it is empty');
  const pairs = new Map<string, string>();
  for (const piece of cs.trim().split(';')) {
    if (piece.trim() === '') continue;
    const eq = piece.indexOf('=');
    if (eq <= 0) throw invalid(kind, `"${piece.slice(0, 40)}" is not Key=value`);
    const key = piece.slice(0, eq).trim();
    if (pairs.has(key)) throw invalid(kind, `${key} appears twice`);
    pairs.set(key, piece.slice(eq + 1).trim());
  }
  return pairs;
}

/** The value of a required key; the message points out a wrongly cased key, the commonest slip. */
function required(kind: string, pairs: Map<string, string>, key: string): string {
  const value = pairs.get(key);
  if (value === undefined) {
    const near = [...pairs.keys()].find((k) => k.toLowerCase() === key.toLowerCase());
    throw invalid(kind, near ? `${key} is missing (found "${near}"; keys are case-sensitive)` : `${key} is missing`);
  }
  if (value === '') throw invalid(kind, `${key} is empty`);
  return value;
}

function optional(kind: string, pairs: Map<string, string>, key: string): string | undefined {
  const value = pairs.get(key);
  if (value === '') throw invalid(kind, `${key} is empty`);
  return value;
}

/** Throws FerryError ArgumentInvalid naming what is missing or duplicated. */
export function parseHubConnectionString(cs: string): HubConnectionString {
  const pairs = splitPairs('hub', cs);
  return {
    hostName: required('hub', pairs, 'HostName'),
    sharedAccessKeyName: required('hub', pairs, 'SharedAccessKeyName'),
    sharedAccessKey: required('hub', pairs, 'SharedAccessKey'),
  };
}

function join(kind: string, entries: Array<[string, string | undefined]>): string {
  const out: string[] = [];
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    if (value === '') throw invalid(kind, `${key} is empty`);
    if (value.includes(';')) throw invalid(kind, `${key} contains ';'`);
    out.push(`${key}=${value}`);
  }
  return out.join(';');
}

export function formatHubConnectionString(cs: HubConnectionString): string {
  for (const [key, value] of [
    ['hostName', cs.hostName],
    ['sharedAccessKeyName', cs.sharedAccessKeyName],
    ['sharedAccessKey', cs.sharedAccessKey],
  ] as const) {
    if (!value) throw invalid('hub', `${key} is missing`);
  }
  return join('hub', [
    ['HostName', cs.hostName],
    ['SharedAccessKeyName', cs.sharedAccessKeyName],
    ['SharedAccessKey', cs.sharedAccessKey],
  ]);
}

/** Requires HostName, DeviceId and exactly one of SharedAccessKey, SharedAccessSignature, x509=true (the official device parser's rule). */
export function parseDeviceConnectionString(cs: string): DeviceConnectionString {
  const kind = 'device';
  const pairs = splitPairs(kind, cs);
  const out: DeviceConnectionString = {
    hostName: required(kind, pairs, 'HostName'),
    deviceId: required(kind, pairs, 'DeviceId'),
  };
  const moduleId = optional(kind, pairs, 'ModuleId');
  const gatewayHostName = optional(kind, pairs, 'GatewayHostName');
  const sharedAccessKeyName = optional(kind, pairs, 'SharedAccessKeyName');
  const sharedAccessKey = optional(kind, pairs, 'SharedAccessKey');
  const sharedAccessSignature = optional(kind, pairs, 'SharedAccessSignature');
  const x509Raw = optional(kind, pairs, 'x509');
  // The SDK treats any x509 value as true; a Ferry user writing x509=false surely means no.
  if (x509Raw !== undefined && x509Raw.toLowerCase() !== 'true') {
    throw invalid(kind, `x509 must be "true", got "${x509Raw.slice(0, 20)}"`);
  }
  const credentials = [
    sharedAccessKey !== undefined && 'SharedAccessKey',
    sharedAccessSignature !== undefined && 'SharedAccessSignature',
    x509Raw !== undefined && 'x509=true',
  ].filter((c): c is string => c !== false);
  if (credentials.length === 0) {
    throw invalid(kind, 'it must contain one of SharedAccessKey, SharedAccessSignature or x509=true');
  }
  if (credentials.length > 1) throw invalid(kind, `it must contain only one of ${credentials.join(' and ')}`);
  if (moduleId !== undefined) out.moduleId = moduleId;
  if (gatewayHostName !== undefined) out.gatewayHostName = gatewayHostName;
  if (sharedAccessKeyName !== undefined) out.sharedAccessKeyName = sharedAccessKeyName;
  if (sharedAccessKey !== undefined) out.sharedAccessKey = sharedAccessKey;
  if (sharedAccessSignature !== undefined) out.sharedAccessSignature = sharedAccessSignature;
  if (x509Raw !== undefined) out.x509 = true;
  return out;
}

/** The inverse of parseDeviceConnectionString; refuses what it would refuse. */
export function formatDeviceConnectionString(cs: DeviceConnectionString): string {
  const text = join('device', [
    ['HostName', cs.hostName],
    ['DeviceId', cs.deviceId],
    ['ModuleId', cs.moduleId],
    ['SharedAccessKeyName', cs.sharedAccessKeyName],
    ['SharedAccessKey', cs.sharedAccessKey],
    ['SharedAccessSignature', cs.sharedAccessSignature],
    ['x509', cs.x509 ? 'true' : undefined],
    ['GatewayHostName', cs.gatewayHostName],
  ]);
  parseDeviceConnectionString(text);
  return text;
}
