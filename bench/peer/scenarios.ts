/**
 * One run of the peer benchmark against one server: a fresh server, the fleet connected and
 * subscribed, a warm-up, then the scenarios in order, each charged with the server's CPU and
 * RSS from /proc/<pid>/stat.
 *   a  online fan-out: M messages round robin over N devices, `window` awaiting acknowledgement
 *   b  the same paced at `rate` messages/s (latency at a steady load); `pacedWarmUp` messages at
 *      the rate go first and b follows without a pause, so b is the steady state; the warm-up is
 *      a row of its own ("b from idle": the step from an idle server, and three cold processes on
 *      two cores, to the rate), latencies only
 *   c  offline: the fleet disconnects, K messages per device are enqueued, the fleet reconnects
 *      (session present, no SUBSCRIBE) and drains them
 * Scenarios d (idle connections, peer/idle.ts) and e (telemetry ingest, peer/ingest.ts) run on
 * fresh servers of their own. With Ferry on PostgreSQL, each message scenario is also charged
 * with PostgreSQL's CPU (every postgres process on the machine, RunParts.pgCpu).
 *
 * Each scenario starts on a quiet server (settle()): the work a previous one leaves behind (a
 * WAL checkpoint, a garbage collection, Mosquitto's persistence snapshot) does not land in the
 * next one's latencies. Its CPU is still charged to the scenario that left it (CPU is read after
 * the server has settled; times and rates end with the last delivery). Without it, the paced
 * run's first second paid for the warm-up or fan-out before it (a p99 of 8-15 ms where the
 * seconds after gave 3-5 ms).
 */
import type { LoadGroup } from './load-group.js';
import {
  type DeliveryPart,
  type FleetResult,
  mergeDeliveries,
  mergeSends,
  type SendPart,
  type SendResult,
  shares,
} from './merge.js';
import { procSample } from './proc.js';
import type { SendArg } from './sender.js';

export interface PeerSizes {
  devices: number;
  messages: number;
  window: number;
  rate: number;
  pacedMessages: number;
  /** Messages sent at the paced rate right before b, not measured (0: b starts from idle). */
  pacedWarmUp: number;
  offlinePerDevice: number;
  bodyBytes: number;
  /** Idle connections held at once, d. */
  idle: number;
  /** e: telemetry messages, and PUBLISHes each device keeps awaiting their PUBACK. */
  ingestMessages: number;
  ingestPerDevice: number;
  scenarios: ReadonlySet<'a' | 'b' | 'c' | 'd' | 'e'>;
}

/** One row of the table: a scenario's figures for one server in one run (d has no messages). */
export interface Figures {
  rate?: number;
  p50?: number;
  p99?: number;
  p999?: number;
  cpuUsPerMsg?: number;
  /** PostgreSQL's CPU per message (every postgres process, RunParts.pgCpu): Ferry on PostgreSQL only. */
  pgCpuUsPerMsg?: number;
  rssMiB: number;
  lost?: number;
  dup?: number;
  /**
   * CPU of each load process of a role over the scenario's measured window, user + system per
   * wall second, % of one core (process.cpuUsage in the process itself), in process order: the
   * fleet's from expect() to the end of wait(), the sender's from its first send to its last
   * acknowledgement. One over FERRY_PEER_LOAD_MAX_CPU set the pace, not the server: the run is
   * refused (report.ts).
   */
  fleetCpu?: number[];
  senderCpu?: number[];
  /** e: the reader's CPU (same measure), and how long after the last acknowledgement it read the last event, ms. */
  readerCpu?: number[];
  lagMs?: number;
  /** d: connections (TLS + CONNECT + SUBSCRIBE) per s, server CPU per connection, RSS growth per connection. */
  connRate?: number;
  cpuUsPerConn?: number;
  rssKiBPerConn?: number;
}

export type RunResult = Map<string, Figures>;

export interface RunParts {
  pid: number;
  fleet: LoadGroup;
  sender: LoadGroup;
  /** CPU of the PostgreSQL the server stores in so far, µs (proc.ts postgresCpuUs); none on SQLite or Mosquitto. */
  pgCpu?: () => number;
}

/** Starts a PostgreSQL CPU reading; its result is the figure for `messages` (nothing without pgCpu). */
export function pgCpuMeter(pgCpu: (() => number) | undefined): (messages: number) => Partial<Figures> {
  const before = pgCpu?.();
  return (messages) =>
    pgCpu && before !== undefined ? { pgCpuUsPerMsg: Math.round((pgCpu() - before) / Math.max(1, messages)) } : {};
}

/** Nothing new for this long ends a wait: what has not arrived by then is lost. */
const QUIET_MS = 20_000;
/** settle(): the server is quiet once it used under SETTLE_MAX_CPU_US of CPU in each of two windows of SETTLE_WINDOW_MS. */
const SETTLE_WINDOW_MS = 250;
const SETTLE_MAX_CPU_US = 25_000;
/** settle() gives up waiting after this long (a server busy for good is the next scenario's to report). */
const SETTLE_MAX_MS = 10_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the server `pid` is quiet: two windows in a row under 10 % of a core (or SETTLE_MAX_MS). */
export async function settle(pid: number): Promise<void> {
  const deadline = Date.now() + SETTLE_MAX_MS;
  let quietWindows = 0;
  let before = procSample(pid).cpuUs;
  while (quietWindows < 2 && Date.now() < deadline) {
    await sleep(SETTLE_WINDOW_MS);
    const now = procSample(pid).cpuUs;
    quietWindows = now - before < SETTLE_MAX_CPU_US ? quietWindows + 1 : 0;
    before = now;
  }
}

const perS = (count: number, ns: bigint) => (ns > 0n ? Math.round((count * 1e9) / Number(ns)) : 0);
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** What an exchange delivered: rate, latencies, losses, load CPU, and the server's RSS after it. */
function delivered(sent: SendResult, got: FleetResult, rssBytes: number): Figures {
  return {
    rate: perS(got.unique, got.tLast - sent.t0),
    p50: got.p50,
    p99: got.p99,
    p999: got.p999,
    rssMiB: mib(rssBytes),
    lost: sent.accepted - got.unique,
    dup: got.duplicates,
    fleetCpu: got.cpu,
    senderCpu: sent.cpu,
  };
}

export async function runScenarios(parts: RunParts, sizes: PeerSizes): Promise<RunResult> {
  const { pid, fleet, sender } = parts;
  const out: RunResult = new Map();
  let base = 0;
  // The window shared out over the sender processes: the same total in flight.
  const windows = shares(sizes.window, sender.size);
  if (windows.some((w) => w < 1))
    throw new Error(`a window of ${sizes.window} cannot be shared by ${sender.size} senders`);
  /** All the sender processes send numbers base..base+total-1 (together at `rate`, when given). */
  const send = async (total: number, rate?: number): Promise<SendResult> => {
    const startAt = process.hrtime.bigint();
    const parts = await sender.each<SendPart>('send', (k) => {
      const arg: SendArg = { base, total, window: windows[k]!, first: k, stride: sender.size };
      return rate === undefined ? arg : { ...arg, rate, startAt };
    });
    return mergeSends(parts);
  };
  const gathered = async (): Promise<FleetResult> =>
    mergeDeliveries(await fleet.all<DeliveryPart>('wait', { quietMs: QUIET_MS }));
  /** Sends the next `total` message numbers (at `rate` when given) and waits for the fleet to have them. */
  const exchange = async (total: number, rate?: number): Promise<{ sent: SendResult; got: FleetResult }> => {
    await fleet.all('expect', { base, total });
    const sent = await send(total, rate);
    const got = await gathered();
    base += total;
    return { sent, got };
  };
  const online = async (total: number, rate?: number, warmUp = 0): Promise<Figures> => {
    await settle(pid);
    // The step from idle to the rate: its latencies only (its CPU would be b's, or nobody's).
    if (rate !== undefined && warmUp > 0) {
      const { sent, got } = await exchange(warmUp, rate);
      out.set(`b from idle (first ${warmUp})`, delivered(sent, got, procSample(pid).rss));
    }
    // (expect, which opens the exchange, is the fleet's alone: the server is idle or at its rate.)
    const s0 = procSample(pid);
    const pg = pgCpuMeter(parts.pgCpu);
    const { sent, got } = await exchange(total, rate);
    // The work left behind (checkpoint, GC) is this scenario's CPU, though not its time.
    await settle(pid);
    const s1 = procSample(pid);
    return {
      ...delivered(sent, got, s1.rss),
      cpuUsPerMsg: Math.round((s1.cpuUs - s0.cpuUs) / Math.max(1, got.unique)),
      ...pg(got.unique),
    };
  };

  await fleet.all('connect', { subscribe: true });
  await sender.all('open');
  // Warm-up (not measured): one message per device.
  await online(sizes.devices);
  if (sizes.scenarios.has('a')) out.set('a fan-out', await online(sizes.messages));
  if (sizes.scenarios.has('b'))
    out.set(`b paced ${sizes.rate}/s`, await online(sizes.pacedMessages, sizes.rate, sizes.pacedWarmUp));
  if (sizes.scenarios.has('c')) {
    const total = sizes.devices * sizes.offlinePerDevice;
    await fleet.all('disconnect');
    await settle(pid);
    const s0 = procSample(pid);
    const pgEnqueue = pgCpuMeter(parts.pgCpu);
    const sent = await send(total);
    await settle(pid);
    const s1 = procSample(pid);
    out.set('c offline enqueue', {
      rate: perS(sent.accepted, sent.tSent - sent.t0),
      cpuUsPerMsg: Math.round((s1.cpuUs - s0.cpuUs) / Math.max(1, sent.accepted)),
      ...pgEnqueue(sent.accepted),
      rssMiB: mib(s1.rss),
      lost: 0,
      dup: 0,
      senderCpu: sent.cpu,
    });
    await fleet.all('expect', { base, total });
    await settle(pid);
    const s2 = procSample(pid);
    const pgDrain = pgCpuMeter(parts.pgCpu);
    const t0 = process.hrtime.bigint();
    await fleet.all('connect', { subscribe: false });
    const got = await gathered();
    await settle(pid);
    const s3 = procSample(pid);
    out.set('c reconnect + drain', {
      rate: perS(got.unique, got.tLast - t0),
      cpuUsPerMsg: Math.round((s3.cpuUs - s2.cpuUs) / Math.max(1, got.unique)),
      ...pgDrain(got.unique),
      rssMiB: mib(s3.rss),
      lost: sent.accepted - got.unique,
      dup: got.duplicates,
      fleetCpu: got.cpu,
    });
    base += total;
  }
  await sender.all('close');
  await fleet.all('close');
  return out;
}
