import { join } from 'node:path';
import { SqliteStore } from '@ferry/hub';
import common from 'azure-iot-common';

export { DEVICE_TRANSPORTS, type DeviceTransport, openDevice } from './official-device.js';

export function telemetry(
  body: string | Buffer,
  o: { messageId?: string; correlationId?: string; contentType?: string; properties?: Record<string, string> } = {},
): common.Message {
  const m = new common.Message(body);
  if (o.messageId) m.messageId = o.messageId;
  if (o.correlationId) m.correlationId = o.correlationId;
  if (o.contentType) m.contentType = o.contentType as 'application/json';
  for (const [k, v] of Object.entries(o.properties ?? {})) m.properties.add(k, v);
  return m;
}

export interface LoggedEvent {
  partition: number;
  sequenceNumber: number;
  deviceId: string;
  body: string;
  system: Record<string, string>;
  properties: Record<string, string>;
  annotations: Record<string, string>;
}

/** Every event in the data dir's SQLite event log (the hub must be stopped or killed). */
export async function eventsOnDisk(dataDir: string, partitions = 4): Promise<LoggedEvent[]> {
  const store = new SqliteStore({ path: join(dataDir, 'ferry.db'), checkpointThread: false });
  try {
    const out: LoggedEvent[] = [];
    for (let p = 0; p < partitions; p++) {
      for (const e of await store.readEvents(p, 0, 100_000)) {
        out.push({ ...e, body: e.body.toString('utf8') });
      }
    }
    return out;
  } finally {
    await store.close();
  }
}
