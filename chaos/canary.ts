/**
 * The official device client (azure-iot-device over MQTT) receiving and completing a message sent
 * over HTTPS every quarter second while the fuzzer or the hostile clients run: the hub must keep
 * serving it. A message not received within CANARY_DEADLINE_MS counts as missed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDeviceConnectionString } from '@ferry/common';
import { sendRaw } from '../test/compat/helpers/send.js';
import { openMqttDevice } from '../test/compat/mqtt-helpers.js';
import type { ChaosHub } from './hub.js';

const CANARY_DEADLINE_MS = 30_000;
const PERIOD_MS = 250;

export interface CanaryCounts {
  sent: number;
  received: number;
  /** Not received within the deadline, or the send failed. */
  missed: number;
}

export interface Canary {
  /** Stops sending, waits for what is in flight, closes the client. */
  stop(): Promise<CanaryCounts>;
}

export async function startCanary(hub: ChaosHub, name: string): Promise<Canary> {
  const [device] = await hub.createDevices(name, 1);
  const cs = formatDeviceConnectionString({
    hostName: hub.endpoint.address,
    deviceId: device!.deviceId,
    sharedAccessKey: device!.key,
  });
  const counts: CanaryCounts = { sent: 0, received: 0, missed: 0 };
  const waiting = new Map<string, number>();
  const client = await openMqttDevice(hub.process, cs, 'Mqtt');
  client.client.on('message', (m) => {
    const id = String(m.data);
    if (waiting.delete(id)) counts.received++;
  });
  let stopped = false;
  const loop = async () => {
    for (let n = 0; !stopped; n++) {
      const id = `${name}-${n}`;
      try {
        const res = await sendRaw(hub.process, device!.deviceId, { body: id, messageId: id });
        if (res.status === 204) {
          counts.sent++;
          waiting.set(id, Date.now());
        } else counts.missed++;
      } catch {
        counts.missed++;
      }
      for (const [id, at] of waiting) {
        if (Date.now() - at > CANARY_DEADLINE_MS) {
          waiting.delete(id);
          counts.missed++;
        }
      }
      await sleep(PERIOD_MS);
    }
  };
  const running = loop();
  return {
    async stop() {
      stopped = true;
      await running;
      const deadline = Date.now() + CANARY_DEADLINE_MS;
      while (waiting.size > 0 && Date.now() < deadline) await sleep(100);
      counts.missed += waiting.size;
      await client.close();
      return counts;
    },
  };
}
