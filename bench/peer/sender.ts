/**
 * Load process of the peer benchmark: the back end. Against Ferry, a lean AMQP service sender
 * (rhea, CBS put-token with the `service` policy, one sender link to /messages/devicebound,
 * unsettled transfers answered on Accepted; each message's bytes are rhea's own encoding, made
 * from a template per device: C2dEncoder); against Mosquitto, one lean MQTT client publishing
 * QoS 1 (answered on PUBACK) to the topics Ferry's devices receive on. Both answer each send by
 * callback, with no promise per message. Message n goes to device
 * n mod N, at most `window` awaiting their acknowledgement, optionally paced to `rate` per second.
 * Commands: open, send, close.
 */
import { createSecureContext } from 'node:tls';
import { AmqpPeer, C2dEncoder, SettlingSender } from '../kit/amqp-peer.js';
import type { HubEndpoint } from '../kit/bench-hub.js';
import { LeanMqtt } from '../kit/lean-mqtt.js';
import { serveLoad } from '../kit/load.js';
import { stampedBody } from '../kit/traffic.js';
import { type SendResult, SendTally } from './send-tally.js';

export type SenderInit =
  | { kind: 'amqp'; endpoint: HubEndpoint; deviceIds: string[]; bodyBytes: number }
  | { kind: 'mqtt'; host: string; port: number; ca: string; deviceIds: string[]; bodyBytes: number };

export interface SendArg {
  /** First message number; numbers base..base+total-1 are sent. */
  base: number;
  total: number;
  window: number;
  /** Messages per second; unpaced when absent. */
  rate?: number;
}

export type { SendResult } from './send-tally.js';

/** The bag Ferry puts in a C2D topic (message id, to, expiry, ack), for topics of the same size. */
function mosquittoTopic(deviceId: string, n: number): string {
  const to = encodeURIComponent(`/devices/${deviceId}/messages/devicebound`);
  return (
    `devices/${deviceId}/messages/devicebound/%24.mid=m-${n}&%24.to=${to}` +
    '&%24.exp=2030-01-01T00%3A00%3A00.000Z&iothub-ack=none'
  );
}

if (process.env.FERRY_PEER_DIAG) {
  process.env.FERRY_PEER_DIAG_LABEL = 'sender';
  await import('./diag.js');
}

serveLoad<SenderInit>((init) => {
  /** Sends message n to the device; `done` gets its acknowledgement (or the refusal). */
  let send: ((deviceId: string, n: number, body: Buffer, done: (err?: unknown) => void) => void) | undefined;
  let close: (() => Promise<void>) | undefined;

  async function open(): Promise<null> {
    if (init.kind === 'amqp') {
      const peer = await AmqpPeer.open(init.endpoint, createSecureContext({ ca: init.endpoint.ca }));
      await peer.authorizeService(init.endpoint);
      const sender = new SettlingSender(await peer.openSender('/messages/devicebound'));
      const encoder = new C2dEncoder();
      send = (deviceId, n, body, done) => sender.sendEncoded(encoder.encode(deviceId, `m-${n}`, body), done);
      close = () => peer.close();
    } else {
      const { client } = await LeanMqtt.connect({
        host: init.host,
        port: init.port,
        secureContext: createSecureContext({ ca: init.ca }),
        clientId: `peer-publisher-${process.pid}`,
        clean: true,
      });
      send = (deviceId, n, body, done) => client.publishWith(mosquittoTopic(deviceId, n), body, done);
      close = () => client.end();
    }
    return null;
  }

  function sendAll(arg: unknown): Promise<SendResult> {
    const o = arg as SendArg;
    const ids = init.deviceIds;
    const go = send;
    if (!go) throw new Error('open first');
    const tally = new SendTally();
    const t0 = tally.t0;
    let next = 0;
    let inflight = 0;
    let timer: NodeJS.Timeout | undefined;
    return new Promise((resolve) => {
      const issue = (i: number) => {
        const n = o.base + i;
        inflight++;
        go(ids[i % ids.length]!, n, stampedBody(init.bodyBytes, n), (err) => {
          tally.settled(err);
          inflight--;
          pump();
        });
      };
      const pump = () => {
        const due =
          o.rate === undefined
            ? o.total
            : Math.min(o.total, Math.floor((Number(process.hrtime.bigint() - t0) * o.rate) / 1e9) + 1);
        while (next < due && inflight < o.window) issue(next++);
        if (next >= o.total && inflight === 0) {
          resolve(tally.result());
        } else if (next < o.total && next >= due && !timer) {
          // Paced and ahead of the schedule: come back when the next one is due.
          timer = setTimeout(() => {
            timer = undefined;
            pump();
          }, 1);
        }
      };
      pump();
    });
  }

  return {
    open,
    send: sendAll,
    close: async () => {
      await close?.();
      return null;
    },
  };
});
