/**
 * Part (b): mutated sessions of MQTT, AMQP, HTTP and both WebSocket variants, each on its own TLS
 * connection to the hub's standard port (TLS sessions resumed, so the handshakes stay cheap).
 * Most inputs end with a half-close; some keep the connection open until the hub closes it or a
 * second passes. The hub's watcher (hub.ts) counts exits and hangs and restarts it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type TLSSocket } from 'node:tls';
import { FUZZ_PROTOCOLS, type FuzzProtocol, type Session } from './capture.js';
import type { ChaosHub } from './hub.js';
import { mutate } from './mutate.js';
import type { Rng } from './rng.js';

export interface FuzzOptions {
  inputs: number;
  rng: Rng;
  /** Stop by this time (ms since the epoch) even when inputs remain. */
  until: number;
  concurrency: number;
  sessions: Session[];
  /** Records the sessions again (their SAS tokens last an hour). */
  refresh: () => Promise<Session[]>;
  log: (line: string) => void;
}

export interface FuzzCounts {
  inputs: number;
  /** Connections the hub closed by itself (it refused the input). */
  closedByHub: number;
  /** The TLS connection could not be made (hub restarting, or refusing connections). */
  connectFailed: number;
}

const HOLD_MS = 1000;
// After the half-close: long enough for the hub to read the input before the socket goes.
const CLOSE_WAIT_MS = 300;
const REFRESH_MS = 30 * 60_000;

function portOf(hub: ChaosHub, p: FuzzProtocol): number {
  if (p === 'mqtt') return hub.endpoint.ports.mqtts;
  if (p === 'amqp') return hub.endpoint.ports.amqps;
  return hub.endpoint.ports.https;
}

export async function fuzz(hub: ChaosHub, o: FuzzOptions): Promise<Map<FuzzProtocol, FuzzCounts>> {
  const counts = new Map<FuzzProtocol, FuzzCounts>(
    FUZZ_PROTOCOLS.map((p) => [p, { inputs: 0, closedByHub: 0, connectFailed: 0 }]),
  );
  let sessions = o.sessions;
  let recorded = Date.now();
  const tlsSessions = new Map<number, Buffer>();
  let issued = 0;

  const one = async (protocol: FuzzProtocol, bytes: Buffer, hold: boolean) => {
    const c = counts.get(protocol)!;
    c.inputs++;
    const port = portOf(hub, protocol);
    const socket: TLSSocket = connect({
      host: hub.endpoint.address,
      port,
      secureContext: hub.secureContext,
      session: tlsSessions.get(port),
    });
    socket.on('session', (s: Buffer) => tlsSessions.set(port, s));
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('secureConnect', () => resolve(true));
      socket.once('close', () => resolve(false));
    });
    if (!connected) {
      c.connectFailed++;
      return;
    }
    let hubClosed = false;
    const closed = new Promise<void>((resolve) =>
      socket.once('close', () => {
        hubClosed = true;
        resolve();
      }),
    );
    socket.write(bytes);
    if (!hold) socket.end();
    await Promise.race([closed, sleep(hold ? HOLD_MS : CLOSE_WAIT_MS)]);
    if (hubClosed && hold) c.closedByHub++;
    socket.destroy();
  };

  const lane = async () => {
    while (issued < o.inputs && Date.now() < o.until) {
      await hub.ready();
      if (Date.now() - recorded > REFRESH_MS) {
        recorded = Date.now();
        sessions = await o.refresh();
      }
      const n = issued++;
      const protocol = FUZZ_PROTOCOLS[n % FUZZ_PROTOCOLS.length]!;
      const session = o.rng.pick(sessions.filter((s) => s.protocol === protocol));
      await one(protocol, mutate(session, sessions, o.rng), o.rng.chance(0.1));
      if (n > 0 && n % 10_000 === 0) o.log(`fuzz: ${n} inputs`);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, lane));
  return counts;
}
