/**
 * Load process of the peer benchmark's ingest scenario (e): the one reader of everything the
 * devices publish. Against Ferry, @ferry/service's ServiceClient.readEvents() on the hub's Event
 * Hubs-compatible endpoint (every partition, from the time it opened); against Mosquitto, one lean
 * MQTT client subscribed at QoS 1 to `devices/+/messages/events/#`. Both feed a Tracker: unique
 * numbers, duplicates, publish-to-read latency, this process's CPU.
 * Commands: open, expect, wait, close.
 */
import { createSecureContext } from 'node:tls';
import { ServiceClient } from '@ferry/service';
import type { HubEndpoint } from '../kit/bench-hub.js';
import { LeanMqtt } from '../kit/lean-mqtt.js';
import { serveLoad } from '../kit/load.js';
import { trackingCommands } from './tracker.js';

export type ReaderInit =
  | { kind: 'ferry'; endpoint: HubEndpoint }
  | { kind: 'mqtt'; host: string; port: number; ca: string };

if (process.env.FERRY_PEER_DIAG) {
  process.env.FERRY_PEER_DIAG_LABEL = 'reader';
  await import('./diag.js');
}

serveLoad<ReaderInit>((init) => {
  const { record, expect, wait } = trackingCommands();
  let close: (() => Promise<void>) | undefined;

  async function open(): Promise<null> {
    if (init.kind === 'ferry') {
      const { endpoint } = init;
      const service = ServiceClient.fromConnectionString(endpoint.serviceConnectionString, {
        ca: endpoint.ca,
        port: endpoint.ports.amqps,
        httpsPort: endpoint.ports.https,
      });
      // From the time the reader opened: whenever its links attach, nothing published after is missed.
      const events = service.readEvents({ from: new Date() });
      const reading = (async () => {
        for await (const e of events) record(e.body);
      })();
      close = async () => {
        await service.close();
        await reading.catch(() => undefined);
      };
    } else {
      const { client } = await LeanMqtt.connect({
        host: init.host,
        port: init.port,
        secureContext: createSecureContext({ ca: init.ca }),
        clientId: `peer-reader-${process.pid}`,
        clean: true,
        onPayload: record,
      });
      const granted = await client.subscribe('devices/+/messages/events/#', 1);
      if (granted !== 1) throw new Error(`the reader's subscription was granted ${granted}`);
      close = () => client.end();
    }
    return null;
  }

  return {
    open,
    expect,
    wait,
    close: async () => {
      await close?.();
      return null;
    },
  };
});
