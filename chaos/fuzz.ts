/**
 * Part (b): mutated sessions of MQTT, AMQP, HTTP and both WebSocket variants, each on its own TLS
 * connection to the hub's standard port (TLS sessions resumed, so the handshakes stay cheap).
 * Most inputs end with a half-close; some keep the connection open until the hub closes it or a
 * second passes. The hub's watcher (hub.ts) counts exits and hangs and restarts it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type TLSSocket } from 'node:tls';
import { FUZZ_PROTOCOLS, type FuzzProtocol, type Session } from './capture.js';
import type { ChaosHub } from './hub.js';
import { mutate } from './mutate.js';
import type { Rng } from './rng.js';

export interface FuzzOptions {
  inputs: number;
  /** The protocols to fuzz (default all five), taken in turn. */
  protocols?: readonly FuzzProtocol[];
  rng: Rng;
  /** Stop by this time (ms since the epoch) even when inputs remain. */
  until: number;
  concurrency: number;
  sessions: Session[];
  /** Records the sessions again (their SAS tokens last an hour). */
  refresh: () => Promise<Session[]>;
  log: (line: string) => void;
  /** Where the inputs sent just before a hub exit or hang are kept. */
  findingsDir: string;
}

export interface FuzzCounts {
  inputs: number;
  /** The TLS connection could not be made (hub restarting, or refusing connections). */
  connectFailed: number;
}

const HOLD_MS = 1000;
// After the half-close: long enough for the hub to read the input before the socket goes.
const CLOSE_WAIT_MS = 300;
const REFRESH_MS = 30 * 60_000;
/** A hang is noticed after /health has been silent for 10 s: keep what was sent in the 20 s before. */
const FINDING_WINDOW_MS = 20_000;
const RECENT_MAX = 20_000;

function portOf(hub: ChaosHub, p: FuzzProtocol): number {
  if (p === 'mqtt') return hub.endpoint.ports.mqtts;
  if (p === 'amqp') return hub.endpoint.ports.amqps;
  return hub.endpoint.ports.https;
}

/** TLS sessions to resume, per port. */
export type TlsSessions = Map<number, Buffer>;

/**
 * Sends one input on a new TLS connection and lets go of it: 'no-connect' when TLS failed,
 * 'closed' when the hub closed it within the wait, else 'open'.
 */
export async function deliver(
  hub: ChaosHub,
  tlsSessions: TlsSessions,
  protocol: FuzzProtocol,
  bytes: Buffer,
  hold: boolean,
): Promise<'no-connect' | 'closed' | 'open'> {
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
  if (!connected) return 'no-connect';
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
  socket.destroy();
  return hubClosed ? 'closed' : 'open';
}

interface Sent {
  at: number;
  protocol: FuzzProtocol;
  bytes: Buffer;
}

/** Writes the inputs of the last FINDING_WINDOW_MS into `dir`, in the order they were sent. */
function keepFinding(dir: string, recent: readonly Sent[], log: (line: string) => void): void {
  mkdirSync(dir, { recursive: true });
  const since = Date.now() - FINDING_WINDOW_MS;
  const kept = recent.filter((r) => r.at >= since);
  for (const [i, r] of kept.entries())
    writeFileSync(join(dir, `${String(i).padStart(5, '0')}-${r.protocol}.bin`), r.bytes);
  log(
    `fuzz: the ${kept.length} inputs sent in the ${FINDING_WINDOW_MS / 1000} s before it are in ${dir} (npm run chaos:replay -- ${dir})`,
  );
}

export async function fuzz(hub: ChaosHub, o: FuzzOptions): Promise<Map<FuzzProtocol, FuzzCounts>> {
  const protocols = o.protocols ?? FUZZ_PROTOCOLS;
  const counts = new Map<FuzzProtocol, FuzzCounts>(protocols.map((p) => [p, { inputs: 0, connectFailed: 0 }]));
  let sessions = o.sessions;
  let recorded = Date.now();
  const tlsSessions: TlsSessions = new Map();
  let issued = 0;
  const recent: Sent[] = [];
  let findings = 0;
  const stopListening = hub.onTrouble((what) => {
    keepFinding(join(o.findingsDir, `${++findings}-${what.replace(/\W+/g, '-')}`), recent, o.log);
  });

  const lane = async () => {
    while (issued < o.inputs && Date.now() < o.until) {
      await hub.ready();
      if (Date.now() - recorded > REFRESH_MS) {
        recorded = Date.now();
        sessions = await o.refresh();
      }
      const n = issued++;
      const protocol = protocols[n % protocols.length]!;
      const session = o.rng.pick(sessions.filter((s) => s.protocol === protocol));
      const bytes = mutate(session, sessions, o.rng);
      recent.push({ at: Date.now(), protocol, bytes });
      if (recent.length > RECENT_MAX) recent.splice(0, recent.length - RECENT_MAX);
      const c = counts.get(protocol)!;
      c.inputs++;
      if ((await deliver(hub, tlsSessions, protocol, bytes, o.rng.chance(0.1))) === 'no-connect') c.connectFailed++;
      if (n > 0 && n % 10_000 === 0) o.log(`fuzz: ${n} inputs`);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.concurrency }, lane));
  } finally {
    stopListening();
  }
  return counts;
}
