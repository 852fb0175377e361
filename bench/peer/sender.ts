/**
 * Load process of the peer benchmark: the back end. Against Ferry, a lean AMQP service sender
 * (rhea, CBS put-token with the `service` policy, one sender link to /messages/devicebound,
 * unsettled transfers answered on Accepted; each message's bytes are rhea's own encoding, made
 * from a template per device: C2dEncoder); against Mosquitto, one lean MQTT client publishing
 * QoS 1 (answered on PUBACK) to the topics Ferry's devices receive on, each PUBLISH a copy of a
 * template per device (mqtt-wire.ts PublishTemplate). Both answer every send through one callback
 * (Channel.settled), with no promise or closure per message. Message index i (number base + i) goes to device
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
import { PublishTemplate } from '../kit/mqtt-wire.js';
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
function mosquittoTopic(deviceId: string, messageId: string): string {
  const to = encodeURIComponent(`/devices/${deviceId}/messages/devicebound`);
  return (
    `devices/${deviceId}/messages/devicebound/%24.mid=${messageId}&%24.to=${to}` +
    '&%24.exp=2030-01-01T00%3A00%3A00.000Z&iothub-ack=none'
  );
}

/**
 * The way to the server: send(i, n) sends message number n to device i; every acknowledgement
 * (or refusal, or `count` lost with the connection) is answered through `settled`.
 */
interface Channel {
  send(device: number, n: number): void;
  settled: (err: unknown, count: number) => void;
  close(): Promise<void>;
}

if (process.env.FERRY_PEER_DIAG) {
  process.env.FERRY_PEER_DIAG_LABEL = 'sender';
  await import('./diag.js');
}

serveLoad<SenderInit>((init) => {
  let channel: Channel | undefined;

  async function openAmqp(endpoint: HubEndpoint): Promise<Channel> {
    const peer = await AmqpPeer.open(endpoint, createSecureContext({ ca: endpoint.ca }));
    await peer.authorizeService(endpoint);
    const sender = new SettlingSender(await peer.openSender('/messages/devicebound'));
    const encoder = new C2dEncoder();
    const ids = init.deviceIds;
    const ch: Channel = {
      send: (i, n) => sender.sendEncoded(encoder.encode(ids[i]!, `m-${n}`, stampedBody(init.bodyBytes, n)), done),
      settled: () => undefined,
      close: () => peer.close(),
    };
    // One callback for every transfer (none made per message).
    const done = (err?: Error) => ch.settled(err, 1);
    return ch;
  }

  async function openMqtt(host: string, port: number, ca: string): Promise<Channel> {
    const { client } = await LeanMqtt.connect({
      host,
      port,
      secureContext: createSecureContext({ ca }),
      clientId: `peer-publisher-${process.pid}`,
      clean: true,
    });
    // A PUBLISH template per device and length of its message id (m-1 ... m-1234567).
    const templates = init.deviceIds.map(() => [] as PublishTemplate[]);
    const ch: Channel = {
      send: (i, n) => {
        const messageId = `m-${n}`;
        const byLength = templates[i]!;
        let t = byLength[messageId.length];
        if (!t) {
          const topic = mosquittoTopic(init.deviceIds[i]!, '#'.repeat(messageId.length));
          t = new PublishTemplate(topic, Math.max(12, init.bodyBytes));
          byLength[messageId.length] = t;
        }
        client.sendStamped(t, n, messageId);
      },
      settled: () => undefined,
      close: () => client.end(),
    };
    client.sink = { acked: () => ch.settled(undefined, 1), lost: (err, count) => ch.settled(err, count) };
    return ch;
  }

  async function open(): Promise<null> {
    channel = init.kind === 'amqp' ? await openAmqp(init.endpoint) : await openMqtt(init.host, init.port, init.ca);
    return null;
  }

  function sendAll(arg: unknown): Promise<SendPart> {
    const o = arg as SendArg;
    const devices = init.deviceIds.length;
    const ch = channel;
    if (!ch) throw new Error('open first');
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
          inflight++;
          ch.send(next % devices, o.base + next);
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
      // Every acknowledgement of this command comes here (no closure per message).
      ch.settled = (err, count) => {
        if (err === undefined) tally.settled();
        else tally.failed(err, count);
        inflight -= count;
        pump();
      };
      pump();
    });
  }

  return {
    open,
    send: sendAll,
    close: async () => {
      await channel?.close();
      return null;
    },
  };
});
