/**
 * Part (a): kill -9 rounds. Each round connects devices (MQTT, AMQP, HTTPS) that receive and
 * complete, starts AMQP and HTTPS senders that alternate live devices and full ones, SIGKILLs the
 * hub at a random moment and starts it again. At the end every queue, the full ones included, is
 * drained, and the ledger says what was acknowledged and never delivered (lost), refused yet
 * delivered (the answer lied), and delivered twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchDevice } from '../bench/kit/bench-hub.js';
import { hubRequest } from '../test/compat/harness.js';
import { serviceSas } from '../test/compat/helpers/auth.js';
import { API } from '../test/compat/helpers/send.js';
import { ChaosHub } from './hub.js';
import {
  amqpReceiver,
  amqpSender,
  httpsReceiver,
  httpsSender,
  mqttReceiver,
  type Running,
  type SendPlan,
} from './kill-clients.js';
import { Ledger, type LedgerCounts } from './ledger.js';
import type { Rng } from './rng.js';

export interface KillOptions {
  rounds: number;
  rng: Rng;
  /** Traffic before the kill, drawn in [min, max] ms each round. */
  roundMs: readonly [number, number];
  log: (line: string) => void;
}

export interface KillResult extends LedgerCounts {
  rounds: number;
  exits: number;
  hangs: number;
  /** Messages still queued when the drain gave up (0 unless the hub lost its way). */
  undrained: number;
}

const DRAIN_MS = 120_000;

/** Connects one receiver per live device, cycling through the protocols. */
async function receivers(hub: ChaosHub, devices: readonly BenchDevice[], ledger: Ledger): Promise<Running[]> {
  return Promise.all(
    devices.map((d, i) => {
      if (i % 3 === 0) return mqttReceiver(hub, d, ledger);
      if (i % 3 === 1) return amqpReceiver(hub, d, ledger);
      return httpsReceiver(hub, d, ledger);
    }),
  );
}

async function queued(hub: ChaosHub, deviceId: string): Promise<number> {
  const res = await hubRequest(hub.process, 'GET', `/devices/${encodeURIComponent(deviceId)}?${API}`, {
    headers: { authorization: serviceSas(hub.process, 'registryRead') },
  });
  if (res.status !== 200) throw new Error(`GET device ${deviceId}: ${res.status}`);
  return Number(
    (JSON.parse(res.body.toString('utf8')) as { cloudToDeviceMessageCount: number }).cloudToDeviceMessageCount,
  );
}

async function totalQueued(hub: ChaosHub, devices: readonly BenchDevice[]): Promise<number> {
  let n = 0;
  for (const d of devices) n += await queued(hub, d.deviceId);
  return n;
}

export async function killRounds(o: KillOptions): Promise<KillResult> {
  const hub = await ChaosHub.start({ c2d: { lockTimeoutMs: 5000, maxQueueDepth: 50 } });
  const ledger = new Ledger();
  let undrained = 0;
  try {
    const live = await hub.createDevices('kill-live', 6);
    const sinks = await hub.createDevices('kill-sink', 3);
    for (let round = 1; round <= o.rounds; round++) {
      const plan: SendPlan = { ledger, rng: o.rng, live, sinks, prefix: `r${round}` };
      const clients: Running[] = await receivers(hub, live, ledger);
      clients.push(await amqpSender(hub, plan, 24), httpsSender(hub, plan, 3));
      const ms = o.rng.between(o.roundMs[0], o.roundMs[1]);
      await sleep(ms);
      await hub.kill();
      await Promise.all(clients.map((c) => c.stop()));
      await hub.restart();
      const c = ledger.counts();
      o.log(`kill round ${round}/${o.rounds}: killed after ${ms} ms; ${c.sent} sent, ${c.acknowledged} acknowledged`);
    }
    // Drain everything, the full queues included.
    const drainers = await receivers(hub, [...live, ...sinks], ledger);
    const deadline = Date.now() + DRAIN_MS;
    for (;;) {
      undrained = await totalQueued(hub, [...live, ...sinks]);
      if (undrained === 0 || Date.now() > deadline) break;
      await sleep(500);
    }
    await Promise.all(drainers.map((c) => c.stop()));
  } finally {
    await hub.stop();
  }
  return { rounds: o.rounds, exits: hub.health.exits, hangs: hub.health.hangs, undrained, ...ledger.counts() };
}
