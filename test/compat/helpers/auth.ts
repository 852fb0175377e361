/** Authorization headers for raw requests: service-policy and device SAS tokens shaped as the official SDKs shape them. */
import { createSasToken, parseDeviceConnectionString, parseHubConnectionString } from '@ferry/common';
import type { HubProcess } from '../harness.js';

const HOUR_S = 3600;

function inAnHour(): number {
  return Math.ceil(Date.now() / 1000) + HOUR_S;
}

export interface SasOverrides {
  /** Seconds since the epoch (default: an hour from now). */
  expiry?: number;
  /** Sign with this key instead of the real one. */
  key?: string;
}

/** Service token as azure-iothub makes it: sr = raw host, skn = policy name. */
export function serviceSas(hub: HubProcess, policy = 'service', o: SasOverrides = {}): string {
  const cs = parseHubConnectionString(hub.connectionString(policy));
  return createSasToken({
    resourceUri: cs.hostName,
    encode: false,
    key: o.key ?? cs.sharedAccessKey,
    keyName: cs.sharedAccessKeyName,
    expiry: o.expiry ?? inAnHour(),
  });
}

/** Device token as azure-iot-device makes it: sr = encoded `host/devices/id`, no skn. */
export function deviceSas(deviceConnectionString: string, o: SasOverrides & { deviceId?: string } = {}): string {
  const cs = parseDeviceConnectionString(deviceConnectionString);
  if (!cs.sharedAccessKey) throw new Error('deviceSas needs a SharedAccessKey connection string');
  return createSasToken({
    resourceUri: `${cs.hostName}/devices/${o.deviceId ?? cs.deviceId}`,
    key: o.key ?? cs.sharedAccessKey,
    expiry: o.expiry ?? inAnHour(),
  });
}

export function deviceIdOf(deviceConnectionString: string): string {
  return parseDeviceConnectionString(deviceConnectionString).deviceId;
}

/** A well-formed base64 key that is not any real key. */
export const WRONG_KEY = Buffer.alloc(32, 7).toString('base64');
