/**
 * The traffic of a kill round: lean senders (rhea over AMQP, pipelined on one link; signed HTTPS
 * POSTs) and devices that receive and complete (mqtt.js over MQTT, rhea over AMQP, HTTPS polls).
 * Every client ends quietly when the hub dies under it; what it had in flight is "unanswered".
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { formatDeviceConnectionString } from '@ferry/common';
import type { EventContext } from 'rhea';
import { AmqpPeer, bodyOf, c2dMessage, SettlingSender } from '../bench/kit/amqp-peer.js';
import type { BenchDevice } from '../bench/kit/bench-hub.js';
import { connectMqttDevice } from '../bench/kit/mqtt-device.js';
import { receiveRaw, settleRaw } from '../test/compat/helpers/device-raw.js';
import { sendRaw } from '../test/compat/helpers/send.js';
import type { ChaosHub } from './hub.js';
import type { Ledger } from './ledger.js';
import type { Rng } from './rng.js';

/** A running client: stop() ends it and resolves once it let go of everything. */
export interface Running {
  stop(): Promise<void>;
}

export interface SendPlan {
  ledger: Ledger;
  rng: Rng;
  /** Devices that receive (their queues drain). */
  live: readonly BenchDevice[];
  /** Devices nobody receives for during the rounds: their queues fill, and sends to them are refused. */
  sinks: readonly BenchDevice[];
  /** Prefix of the message ids (the round). */
  prefix: string;
}

let counter = 0;

/** Alternates a live device and a sink, so accepted and refused transfers settle side by side. */
function target(plan: SendPlan): BenchDevice {
  return counter % 2 === 0 ? plan.rng.pick(plan.live) : plan.rng.pick(plan.sinks);
}

function nextId(plan: SendPlan, via: string): string {
  return `${plan.prefix}-${via}-${counter++}`;
}

/** `lanes` concurrent unsettled transfers on one service sender link (/messages/devicebound). */
export async function amqpSender(hub: ChaosHub, plan: SendPlan, lanes: number): Promise<Running> {
  const peer = await AmqpPeer.open(hub.endpoint, hub.secureContext);
  await peer.authorizeService(hub.endpoint);
  const sender = new SettlingSender(await peer.openSender('/messages/devicebound'));
  let stopped = false;
  const gone = new Promise<'gone'>((resolve) => peer.conn.once('disconnected', () => resolve('gone')));
  const lane = async () => {
    while (!stopped) {
      const device = target(plan);
      const id = nextId(plan, 'amqp');
      plan.ledger.sent(id);
      const outcome = await Promise.race([
        sender.send(c2dMessage(device.deviceId, Buffer.from(id), id)).then(
          () => 'acknowledged' as const,
          (err: Error) => (err.message.startsWith('rejected') ? ('refused' as const) : ('unanswered' as const)),
        ),
        gone,
      ]);
      plan.ledger.answer(id, outcome === 'gone' ? 'unanswered' : outcome);
      if (outcome === 'gone') return;
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, lane));
  return {
    async stop() {
      stopped = true;
      await Promise.race([running, gone]);
      await peer.close();
    },
  };
}

/** `lanes` concurrent signed HTTPS sends (Ferry's POST /devices/{id}/messages/deviceBound). */
export function httpsSender(hub: ChaosHub, plan: SendPlan, lanes: number): Running {
  let stopped = false;
  const lane = async () => {
    while (!stopped) {
      const device = target(plan);
      const id = nextId(plan, 'https');
      plan.ledger.sent(id);
      try {
        const res = await sendRaw(hub.process, device.deviceId, { messageId: id, body: id });
        plan.ledger.answer(id, res.status === 204 ? 'acknowledged' : 'refused');
      } catch {
        plan.ledger.answer(id, 'unanswered');
        return;
      }
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, lane));
  return {
    async stop() {
      stopped = true;
      await running;
    },
  };
}

export async function mqttReceiver(hub: ChaosHub, device: BenchDevice, ledger: Ledger): Promise<Running> {
  const client = await connectMqttDevice(hub.endpoint, device, {
    secureContext: hub.secureContext,
    onMessage: (_id, _topic, payload) => ledger.delivered(payload.toString('utf8')),
  });
  return {
    async stop() {
      client.end(true);
    },
  };
}

export async function amqpReceiver(hub: ChaosHub, device: BenchDevice, ledger: Ledger): Promise<Running> {
  const peer = await AmqpPeer.open(hub.endpoint, hub.secureContext);
  await peer.authorizeDevice(hub.endpoint, device);
  const receiver = await peer.openReceiver(`/devices/${device.deviceId}/messages/devicebound`, 20);
  receiver.on('message', (ctx: EventContext) => {
    ledger.delivered(bodyOf(ctx.message).toString('utf8'));
    ctx.delivery?.accept();
  });
  return {
    async stop() {
      await peer.close();
    },
  };
}

/** Polls the device's HTTPS receive endpoint and completes what it gets. */
export function httpsReceiver(hub: ChaosHub, device: BenchDevice, ledger: Ledger): Running {
  const cs = formatDeviceConnectionString({
    hostName: hub.endpoint.address,
    deviceId: device.deviceId,
    sharedAccessKey: device.key,
  });
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        const res = await receiveRaw(hub.process, cs);
        if (res.status !== 200) {
          await sleep(100);
          continue;
        }
        const id = res.body.toString('utf8');
        ledger.delivered(id);
        const etag = String(res.headers.etag ?? '').slice(1, -1);
        const done = await settleRaw(hub.process, cs, 'complete', etag);
        if (done.status === 204) ledger.completeAnswered(id);
      } catch {
        return;
      }
    }
  };
  const running = loop();
  return {
    async stop() {
      stopped = true;
      await running;
    },
  };
}
