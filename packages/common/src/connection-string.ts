/** Hub (service) and device connection strings: parse and format. */

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

/** Throws FerryError ArgumentInvalid naming what is missing or duplicated. */
export declare function parseHubConnectionString(cs: string): HubConnectionString;
export declare function formatHubConnectionString(cs: HubConnectionString): string;
export declare function parseDeviceConnectionString(cs: string): DeviceConnectionString;
export declare function formatDeviceConnectionString(cs: DeviceConnectionString): string;
