/**
 * Scenario d of the peer benchmark, idle connections (the target: at most 20 KB of RSS
 * per idle MQTT/TLS device connection, 19,000 held at once). On a fresh server that knows the
 * N + IDLE_WARM_UP devices (Ferry: in its registry), the last IDLE_WARM_UP connect and disconnect
 * first (so code loaded and compiled on first use is not charged to the connections); the
 * server's RSS is read once it has settled; then the fleet connects the N (MQTT 3.1.1 over TLS,
 * clean session 0, SUBSCRIBE to the C2D filter, at most IDLE_CONNECT_CONCURRENCY in flight, a
 * keep-alive long enough that nothing pings), the RSS is read again once it has settled:
 * RSS per connection = (after - before) / N. Server CPU over the connects, per connection, and
 * the connect rate come with it. Then the fleet disconnects.
 *
 * "Settled": two reads of /proc/<pid>/stat's rss SETTLE_MS apart within SETTLE_TOLERANCE of
 * each other (given up after SETTLE_MAX_MS, and said so).
 */
import type { ConnectPart } from './fleet.js';
import type { LoadGroup } from './load-group.js';
import { heapSnapshot } from './memory.js';
import { earliest, latest } from './merge.js';
import { openFilesLimit, procSample } from './proc.js';
import type { Figures } from './scenarios.js';

/**
 * Connects in flight. No more than Mosquitto's listen backlog (100, fixed in its net.c): at 200,
 * a burst overflows its accept queue, the kernel drops SYNs and those clients retry after 1 s,
 * which skews the connect rate. Well under Ferry's connections.maxPendingHandshakes (1000).
 */
export const IDLE_CONNECT_CONCURRENCY = 100;
/**
 * CONNECT's keep-alive, s. The fleet never pings; both servers drop a client silent for 1.5 x
 * its keep-alive (Ferry at most 1767 s, IoT Hub's cap), so this holds for half an hour.
 */
export const IDLE_KEEPALIVE_S = 1177;
export const IDLE_ROW = 'd idle connections';
/** Devices that connect, subscribe and disconnect before the baseline; the fleet has N + these. */
export const IDLE_WARM_UP = 50;

const SETTLE_MS = 1000;
const SETTLE_TOLERANCE = 0.01;
const SETTLE_MAX_MS = 60_000;
/** File descriptors a process needs besides its sockets (listeners, SQLite, pipes, Node's own). */
const FD_SPARE = 200;

/**
 * Throws unless a process (`self`: this one, whose limit the fleet inherits) may hold `n`
 * connections: one file descriptor each, plus FD_SPARE.
 */
export function checkOpenFiles(pid: number | 'self', what: string, n: number): void {
  const limit = openFilesLimit(pid);
  if (limit < n + FD_SPARE) {
    throw new Error(
      `${what} may open ${limit} files, too few for ${n} idle connections: raise ulimit -n ` +
        `to ${n + FD_SPARE} or more, or lower FERRY_PEER_IDLE`,
    );
  }
}

export interface IdleResult {
  figures: Figures;
  /** Server RSS before and after, bytes. */
  before: number;
  after: number;
  /** Connections still open when the second RSS was read. */
  open: number;
  /** Whether both reads settled within SETTLE_MAX_MS. */
  settled: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server's RSS once two reads SETTLE_MS apart agree within SETTLE_TOLERANCE. */
async function settledRss(pid: number): Promise<{ rss: number; settled: boolean }> {
  const deadline = Date.now() + SETTLE_MAX_MS;
  let previous = procSample(pid).rss;
  for (;;) {
    await sleep(SETTLE_MS);
    const rss = procSample(pid).rss;
    if (Math.abs(rss - previous) <= SETTLE_TOLERANCE * previous) return { rss, settled: true };
    if (Date.now() > deadline) return { rss, settled: false };
    previous = rss;
  }
}

/** ns from the earliest start to the latest end of the processes' connects. */
function connectSpan(parts: readonly ConnectPart[]): bigint {
  return latest(parts.map((p) => p.t1)) - earliest(parts.map((p) => p.t0));
}

/**
 * Scenario d against the server `pid`, with a fleet of `n` + IDLE_WARM_UP devices not yet connected.
 * `snapshots`: heap snapshots of the server (FERRY_PEER_HEAP_DIR, a Node server only) before, with the
 * connections open, and once they have closed.
 */
export async function measureIdle(pid: number, fleet: LoadGroup, n: number, snapshots = false): Promise<IdleResult> {
  checkOpenFiles(pid, `the server (pid ${pid})`, n);
  await fleet.all('connect', { subscribe: true, from: n, to: n + IDLE_WARM_UP });
  await fleet.all('disconnect');
  if (snapshots) await heapSnapshot(pid, 'd: before the connections');
  const before = await settledRss(pid);
  const s0 = procSample(pid);
  const connected = await fleet.all<ConnectPart>('connect', { subscribe: true, from: 0, to: n });
  const s1 = procSample(pid);
  const after = await settledRss(pid);
  const open = (await fleet.all<number>('open')).reduce((a, b) => a + b, 0);
  if (snapshots) await heapSnapshot(pid, `d: ${n} connections open`);
  await fleet.all('disconnect');
  if (snapshots) {
    await settledRss(pid);
    await heapSnapshot(pid, 'd: after they closed');
  }
  return {
    figures: {
      rssMiB: Math.round((after.rss / 2 ** 20) * 10) / 10,
      fleetCpu: connected.map((c) => c.cpu),
      // From the first process's first connect to the last one's last CONNACK.
      connRate: Math.round((n * 1e9) / Math.max(1, Number(connectSpan(connected)))),
      cpuUsPerConn: Math.round((s1.cpuUs - s0.cpuUs) / n),
      rssKiBPerConn: Math.round(((after.rss - before.rss) / 1024 / n) * 100) / 100,
    },
    before: before.rss,
    after: after.rss,
    open,
    settled: before.settled && after.settled,
  };
}
