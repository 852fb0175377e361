/**
 * The official clients at work while the fuzzer and the hostile clients run: azure-iothub sends a
 * message over AMQP every quarter second, azure-iot-device receives and completes it over MQTT.
 * Both keep their connections, as applications do (a flood may keep new connections out for a
 * while: connections.maxPendingHandshakes). A message not received within CANARY_DEADLINE_MS, or
 * whose send failed, counts as missed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDeviceConnectionString } from '@ferry/common';
import common from 'azure-iot-common';
import { openService, sendResult } from '../test/compat/amqp-helpers.js';
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
  const service = await openService(hub.process, 'Amqp', false);
  client.client.on('message', (m) => {
    const id = String(m.data);
    if (waiting.delete(id)) counts.received++;
  });
  let stopped = false;
  const loop = async () => {
    for (let n = 0; !stopped; n++) {
      const id = `${name}-${n}`;
      const m = new common.Message(id);
      m.messageId = id;
      // Waited for before the send: the device may have it before the service client has the answer.
      waiting.set(id, Date.now());
      if ((await sendResult(service, device!.deviceId, m)) === undefined) counts.sent++;
      else if (waiting.delete(id)) counts.missed++;
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
      await service.close();
      await client.close();
      return counts;
    },
  };
}
