/**
 * Load process of the peer benchmark: the back end. Against Ferry, a lean AMQP service sender
 * (rhea, CBS put-token with the `service` policy, one sender link to /messages/devicebound,
 * unsettled transfers answered on Accepted; each message's bytes are rhea's own encoding, made
 * from a template per device: C2dEncoder); against Mosquitto, one lean MQTT client publishing
 * QoS 1 (answered on PUBACK) to the topics Ferry's devices receive on. Both answer each send by
 * callback, with no promise per message. Message index i (number base + i) goes to device
 * i mod N. The sender is several processes (load-group.ts): process k of S sends indices k, k+S,
 * k+2S, ..., with its share of the window awaiting acknowledgement (the shares add up to the
 * window), and when paced sends index i once the whole stream is due there (rate per second from
 * one start mark, hrtime being one clock for every process), so together they send at `rate`.
 * Commands: open, send, close.
 */
import { createSecureContext } from 'node:tls';
import { AmqpPeer, C2dEncoder, SettlingSender } from '../kit/amqp-peer.js';
import type { HubEndpoint } from '../kit/bench-hub.js';
import { LeanMqtt } from '../kit/lean-mqtt.js';
import { serveLoad } from '../kit/load.js';
import { stampedBody } from '../kit/traffic.js';
import { type SendPart, SendTally } from './send-tally.js';

export type SenderInit =
  | { kind: 'amqp'; endpoint: HubEndpoint; deviceIds: string[]; bodyBytes: number }
  | { kind: 'mqtt'; host: string; port: number; ca: string; deviceIds: string[]; bodyBytes: number };

export interface SendArg {
  /** First message number; numbers base..base+total-1 are sent (by all the sender processes). */
  base: number;
  total: number;
  /** This process's share of the sends awaiting their acknowledgement. */
  window: number;
  /** This process sends indices first, first+stride, ... (default 0 and 1: all of them). */
  first?: number;
  stride?: number;
  /** Messages per second of the whole stream; unpaced when absent. */
  rate?: number;
  /** hrtime (ns) the paced stream starts at (default: when this process got the call). */
  startAt?: bigint;
}

export type { SendPart, SendResult } from './send-tally.js';

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

  function sendAll(arg: unknown): Promise<SendPart> {
    const o = arg as SendArg;
    const ids = init.deviceIds;
    const go = send;
    if (!go) throw new Error('open first');
    const stride = o.stride ?? 1;
    const tally = new SendTally();
    const t0 = o.startAt ?? tally.t0;
    let next = o.first ?? 0;
    let inflight = 0;
    let timer: NodeJS.Timeout | undefined;
    return new Promise((resolve) => {
      const pump = () => {
        const due =
          o.rate === undefined
            ? o.total
            : Math.min(o.total, Math.floor((Number(process.hrtime.bigint() - t0) * o.rate) / 1e9) + 1);
        while (next < due && inflight < o.window) {
          const n = o.base + next;
          inflight++;
          go(ids[next % ids.length]!, n, stampedBody(init.bodyBytes, n), acked);
          next += stride;
        }
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
      // One callback for every send of this command (no closure per message).
      const acked = (err?: unknown) => {
        tally.settled(err);
        inflight--;
        pump();
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
