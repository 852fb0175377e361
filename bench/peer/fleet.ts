/**
 * Load process of the peer benchmark: the device fleet. N lean MQTT devices (lean-mqtt.ts: TLS
 * with one shared context, mqtt-packet, clean session 0, QoS 1 subscription to their C2D topic
 * filter) against either server. Bodies carry their send time and message number (stampedBody),
 * so the fleet measures send-to-device latency and counts each number once.
 * Commands: connect, expect, wait, open (connections still open), disconnect, close.
 */
import { createSecureContext } from 'node:tls';
import { LeanMqtt } from '../kit/lean-mqtt.js';
import { serveLoad } from '../kit/load.js';
import { type CpuMark, cpuMark, cpuPercent } from '../kit/measure.js';
import { pool } from '../kit/pool.js';
import { percentile } from '../stats.js';

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
}

export interface FleetResult {
  unique: number;
  duplicates: number;
  /** hrtime (ns) of the last unique delivery (0n when none). */
  tLast: bigint;
  p50: number;
  p99: number;
  p999: number;
  /** CPU of this process from expect() to the end of wait(), % of one core. */
  cpu: number;
}

/** Unique deliveries of message numbers base..base+total-1, with their latencies. */
class Tracker {
  readonly seen: Uint8Array;
  readonly latencies: Float64Array;
  unique = 0;
  duplicates = 0;
  tLast = 0n;
  readonly cpu: CpuMark = cpuMark();

  constructor(
    readonly base: number,
    readonly total: number,
  ) {
    this.seen = new Uint8Array(total);
    this.latencies = new Float64Array(total);
  }

  record(body: Buffer): void {
    if (body.length < 12) return;
    const i = body.readUInt32BE(8) - this.base;
    if (i < 0 || i >= this.total) return;
    if (this.seen[i]) {
      this.duplicates++;
      return;
    }
    const now = process.hrtime.bigint();
    this.seen[i] = 1;
    this.latencies[this.unique++] = Number(now - body.readBigUInt64BE(0)) / 1e6;
    this.tLast = now;
  }

  result(): FleetResult {
    const sorted = Array.from(this.latencies.subarray(0, this.unique).sort());
    const r = (x: number) => Math.round(x * 100) / 100;
    return {
      unique: this.unique,
      duplicates: this.duplicates,
      tLast: this.tLast,
      p50: r(percentile(sorted, 50)),
      p99: r(percentile(sorted, 99)),
      p999: r(percentile(sorted, 99.9)),
      cpu: cpuPercent(this.cpu),
    };
  }
}

if (process.env.FERRY_PEER_DIAG) {
  process.env.FERRY_PEER_DIAG_LABEL = 'fleet';
  await import('./diag.js');
}

serveLoad<FleetInit>((init) => {
  const secureContext = createSecureContext({ ca: init.ca });
  let clients: LeanMqtt[] = [];
  let tracker: Tracker | undefined;
  const onPublish = (_topic: string, payload: Buffer) => tracker?.record(payload);

  /**
   * Connects every device (clean session 0), or devices[from, to) when given; subscribes when
   * asked, else expects the session to be there.
   */
  async function connect(arg: unknown): Promise<{ ms: number; cpu: number }> {
    const { subscribe, from, to } = arg as { subscribe: boolean; from?: number; to?: number };
    const cpu = cpuMark();
    const t0 = Date.now();
    clients = [];
    await pool(init.devices.slice(from ?? 0, to), init.connectConcurrency, async (d) => {
      const { client, sessionPresent } = await LeanMqtt.connect({
        host: init.host,
        port: init.port,
        secureContext,
        clientId: d.clientId,
        ...(d.username === undefined ? {} : { username: d.username }),
        ...(d.password === undefined ? {} : { password: d.password }),
        clean: false,
        ...(init.keepalive === undefined ? {} : { keepalive: init.keepalive }),
        onPublish,
      });
      clients.push(client);
      if (subscribe || !sessionPresent) {
        const granted = await client.subscribe(`devices/${d.clientId}/messages/devicebound/#`, 1);
        if (granted !== 1) throw new Error(`${d.clientId}: subscription granted ${granted}`);
      }
    });
    return { ms: Date.now() - t0, cpu: cpuPercent(cpu) };
  }

  async function expect(arg: unknown): Promise<null> {
    const { base, total } = arg as { base: number; total: number };
    tracker = new Tracker(base, total);
    return null;
  }

  /** Resolves when all expected arrived, or nothing new came for `quietMs`. */
  async function wait(arg: unknown): Promise<FleetResult> {
    const { quietMs } = arg as { quietMs: number };
    const t = tracker;
    if (!t) throw new Error('expect first');
    let last = -1;
    let lastChange = Date.now();
    while (t.unique < t.total) {
      if (t.unique !== last) {
        last = t.unique;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > quietMs) {
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    return t.result();
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
