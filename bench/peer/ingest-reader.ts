/**
 * Load process of the peer benchmark's ingest scenario (e): a reader of what the devices publish,
 * one of several processes that read it all between them (load-group.ts). Against Ferry,
 * @ferry/service's ServiceClient.readEvents() on the hub's Event Hubs-compatible endpoint (its
 * share of the partitions, from the time it opened); against Mosquitto, one lean MQTT client
 * subscribed at QoS 1 to `devices/+/messages/events/#`, as a shared subscription
 * (`$share/peer-readers/...`, each message to one of the group) when there are several. Each
 * feeds a Tracker: unique numbers, duplicates, publish-to-read latency, this process's CPU. How
 * many arrive at each is not known beforehand, so the bench polls `count` over all of them and
 * then takes every process's `part` (ingest.ts).
 * Commands: open, expect, count, part, wait, close.
 */
import { createSecureContext } from 'node:tls';
import { ServiceClient } from '@ferry/service';
import type { HubEndpoint } from '../kit/bench-hub.js';
import { LeanMqtt } from '../kit/lean-mqtt.js';
import { serveLoad } from '../kit/load.js';
import { trackingCommands } from './tracker.js';

export type ReaderInit =
  /** `partitions`: which this process reads (default all). */
  | { kind: 'ferry'; endpoint: HubEndpoint; partitions?: number[] }
  /** `shared`: one of several readers sharing the subscription. */
  | { kind: 'mqtt'; host: string; port: number; ca: string; shared?: boolean };

export const SHARED_GROUP = 'peer-readers';

if (process.env.FERRY_PEER_DIAG) {
  process.env.FERRY_PEER_DIAG_LABEL = 'reader';
  await import('./diag.js');
}

serveLoad<ReaderInit>((init) => {
  const { record, expect, count, part, wait } = trackingCommands();
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
      const events = service.readEvents({
        from: new Date(),
        ...(init.partitions === undefined ? {} : { partitions: init.partitions }),
      });
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
      const filter = 'devices/+/messages/events/#';
      const granted = await client.subscribe(init.shared ? `$share/${SHARED_GROUP}/${filter}` : filter, 1);
      if (granted !== 1) throw new Error(`the reader's subscription was granted ${granted}`);
      close = () => client.end();
    }
    return null;
  }

  return {
    open,
    expect,
    count,
    part,
    wait,
    close: async () => {
      await close?.();
      return null;
    },
  };
});
