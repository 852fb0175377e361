/**
 * Load process of the peer benchmark: the device fleet. N lean MQTT devices (lean-mqtt.ts: TLS
 * with one shared context per process, hand-made frames (mqtt-wire.ts), clean session 0, QoS 1 subscription to their C2D topic
 * filter) against either server. Bodies carry their send time and message number (stampedBody),
 * so the fleet measures send-to-device latency and counts each number once. One process holds a
 * slice of the fleet (load-group.ts fleetInits): devices offset..offset+devices.length-1 of
 * fleetSize, and answers its part of the deliveries (merge.ts merges them).
 * Commands: connect, expect, wait, open (connections still open), disconnect, close.
 */
import { createSecureContext } from 'node:tls';
import { LeanMqtt } from '../kit/lean-mqtt.js';
import { serveLoad } from '../kit/load.js';
import { cpuMark, cpuPercent } from '../kit/measure.js';
import { pool } from '../kit/pool.js';
import { deliveriesTo } from './merge.js';
import { trackingCommands } from './tracker.js';

export type { FleetResult } from './tracker.js';

/** One process's connects: from its first to its last CONNACK (hrtime ns), and its CPU meanwhile (%). */
export interface ConnectPart {
  t0: bigint;
  t1: bigint;
  cpu: number;
}

export interface FleetDevice {
  clientId: string;
  username?: string;
  password?: string;
}

export interface FleetInit {
  host: string;
  port: number;
  ca: string;
  devices: FleetDevice[];
  connectConcurrency: number;
  /** CONNECT's keep-alive, s (default lean-mqtt's 240; the fleet never pings). */
  keepalive?: number;
  /** This process's slice of a fleet of fleetSize devices starts at device `offset` (default: all of it). */
  offset?: number;
  fleetSize?: number;
}

if (process.env.FERRY_PEER_DIAG) {
  process.env.FERRY_PEER_DIAG_LABEL = 'fleet';
  await import('./diag.js');
}

serveLoad<FleetInit>((init) => {
  const secureContext = createSecureContext({ ca: init.ca });
  let clients: LeanMqtt[] = [];
  const offset = init.offset ?? 0;
  const fleetSize = init.fleetSize ?? init.devices.length;
  // Message i goes to device i mod fleetSize: this slice's share of an exchange.
  const { record, expect, wait } = trackingCommands((total) =>
    deliveriesTo(total, fleetSize, offset, offset + init.devices.length),
  );

  /**
   * Connects every device of this slice (clean session 0), or those among devices [from, to) of
   * the whole fleet when given; subscribes when asked, else expects the session to be there.
   */
  async function connect(arg: unknown): Promise<ConnectPart> {
    const { subscribe, from, to } = arg as { subscribe: boolean; from?: number; to?: number };
    const cpu = cpuMark();
    const t0 = process.hrtime.bigint();
    clients = [];
    const local = (i: number | undefined, whole: number) =>
      Math.max(0, Math.min(init.devices.length, (i ?? whole) - offset));
    const mine = init.devices.slice(local(from, 0), local(to, fleetSize));
    await pool(mine, init.connectConcurrency, async (d) => {
      const { client, sessionPresent } = await LeanMqtt.connectAs(d, {
        host: init.host,
        port: init.port,
        secureContext,
        clean: false,
        ...(init.keepalive === undefined ? {} : { keepalive: init.keepalive }),
        onPayload: record,
      });
      clients.push(client);
      if (subscribe || !sessionPresent) {
        const granted = await client.subscribe(`devices/${d.clientId}/messages/devicebound/#`, 1);
        if (granted !== 1) throw new Error(`${d.clientId}: subscription granted ${granted}`);
      }
    });
    return { t0, t1: process.hrtime.bigint(), cpu: cpuPercent(cpu) };
  }

  /** How many of the connected clients are still open (the server dropped none). */
  async function open(): Promise<number> {
    return clients.filter((c) => !c.closed).length;
  }

  async function disconnect(): Promise<null> {
    await Promise.all(clients.map((c) => c.end()));
    clients = [];
    return null;
  }

  return { connect, expect, wait, open, disconnect, close: disconnect };
});
