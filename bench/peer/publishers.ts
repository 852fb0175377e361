/**
 * Load process of the peer benchmark's ingest scenario (e): N lean MQTT devices publishing
 * telemetry at QoS 1 to `devices/{id}/messages/events/`, each as fast as it is acknowledged
 * (`perDevice` PUBLISHes awaiting their PUBACK at a time), to either server, each PUBLISH a copy
 * of a template per device (mqtt-wire.ts) answered through the device's one sink. Bodies are stamped
 * (send time, message number) so the reader measures the lag. Message numbers are taken from
 * one counter as PUBACKs come, so a slow device never holds the others back. Several processes
 * share the fleet (load-group.ts fleetInits) and the numbers: each publishes its own range.
 * Commands: connect, publish, close.
 */
import { createSecureContext } from 'node:tls';
import { LeanMqtt } from '../kit/lean-mqtt.js';
import { serveLoad } from '../kit/load.js';
import { PublishTemplate } from '../kit/mqtt-wire.js';
import { pool } from '../kit/pool.js';
import type { FleetInit } from './fleet.js';
import { type SendPart, SendTally } from './send-tally.js';

export interface PublishArg {
  /** First message number; numbers base..base+total-1 are published (by this process). */
  base: number;
  total: number;
  /** PUBLISHes awaiting their PUBACK per device. */
  perDevice: number;
  bodyBytes: number;
}

if (process.env.FERRY_PEER_DIAG) {
  process.env.FERRY_PEER_DIAG_LABEL = 'publishers';
  await import('./diag.js');
}

serveLoad<FleetInit>((init) => {
  const secureContext = createSecureContext({ ca: init.ca });
  let clients: Array<{ client: LeanMqtt; topic: string }> = [];

  async function connect(): Promise<null> {
    clients = [];
    await pool(init.devices, init.connectConcurrency, async (d) => {
      const { client } = await LeanMqtt.connectAs(d, { host: init.host, port: init.port, secureContext, clean: true });
      clients.push({ client, topic: `devices/${d.clientId}/messages/events/` });
    });
    return null;
  }

  function publish(arg: unknown): Promise<SendPart> {
    const o = arg as PublishArg;
    const tally = new SendTally();
    let next = 0;
    let inflight = 0;
    let gone = 0;
    return new Promise((resolve) => {
      const ended = () => {
        if (next >= o.total && inflight === 0) resolve(tally.result());
      };
      const devices = clients.map(({ client, topic }) => {
        const template = new PublishTemplate(topic, Math.max(12, o.bodyBytes));
        /** The device's next message, if any is left. */
        const issue = () => {
          if (next >= o.total) return ended();
          inflight++;
          client.sendStamped(template, o.base + next++);
        };
        // One sink per device and command: each PUBACK publishes that device's next message.
        client.sink = {
          acked: () => {
            inflight--;
            tally.settled();
            issue();
          },
          lost: (err, count) => {
            // This device is gone: the others carry on; once none is left, what was not sent failed too.
            inflight -= count;
            tally.failed(err, count);
            if (++gone === clients.length) {
              tally.failed(err, o.total - next);
              next = o.total;
            }
            ended();
          },
        };
        return issue;
      });
      for (let k = 0; k < o.perDevice; k++) for (const issue of devices) issue();
      ended();
    });
  }

  return {
    connect,
    publish,
    close: async () => {
      await Promise.all(clients.map((c) => c.client.end()));
      clients = [];
      return null;
    },
  };
});
