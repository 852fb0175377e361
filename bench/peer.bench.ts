/**
 * Ferry side by side with Mosquitto (`npm run bench -- peer`). Both servers run in one bench
 * run, alternating A B B A (Ferry, Mosquitto, Mosquitto, Ferry, ...), each run on a fresh server
 * process: a private Mosquitto (Debian's /usr/sbin/mosquitto, TLS, persistence on, see
 * peer/mosquitto.ts) and a Ferry hub (bench-hub.ts in a process of its own: TLS, durable SQLite).
 * The same fleet of lean MQTT devices (QoS 1, clean session 0, 64-byte bodies) receives from a
 * lean AMQP sender (Ferry) or a lean MQTT QoS 1 publisher on the same topics (Mosquitto). The
 * load side must never set the pace, so each role runs as several processes of its own
 * (peer/load-group.ts): the fleet's devices in slices, the sender's window shared out so the total
 * in flight is the same, message numbers interleaved; their latency samples, lost and duplicated
 * counts are merged exactly (peer/merge.ts) and each process reports its own CPU. Scenarios (peer/scenarios.ts):
 * a online fan-out, b the same paced, c offline enqueue then reconnect and drain. Opt-in, d idle
 * connections (peer/idle.ts), on a fresh server of its own: the server's RSS per connection with
 * FERRY_PEER_IDLE devices connected (MQTT/TLS, clean session 0, subscribed) and idle, and the
 * connect rate. Opt-in, e telemetry ingest (peer/ingest.ts), on a fresh server of its own: the
 * N devices publish QoS 1 telemetry as fast as it is acknowledged (Ferry: durable first), the
 * readers read it all back (Ferry: @ferry/service readEvents on the Event Hubs-compatible
 * endpoint, the partitions shared out; Mosquitto: a shared subscription to every device's topic); throughput, server CPU-µs per
 * message, publish-to-read latency and the reader's lag, the publishers' and the reader's CPU.
 *
 * The table gives medians over each server's runs: delivered messages/s, send-to-device latency
 * percentiles, server CPU-µs per delivered message and RSS (from /proc/<pid>/stat of the server
 * process), the load's CPU (user + system per wall second, % of one core) per role: its busiest
 * process (max) and all its processes together (sum), and each figure's ratio Ferry ÷ Mosquitto;
 * lost and duplicated messages are totals over all runs. A run in which any one load process went
 * over FERRY_PEER_LOAD_MAX_CPU % (default 90) of one core in any scenario is refused: the table is
 * printed, then the bench fails naming the process, the server, the run and the scenario. Needs
 * Linux (/proc) and Mosquitto; CI does not run it.
 *
 * Sizes (environment):
 *   FERRY_PEER_DEVICES         N devices (default 1000)
 *   FERRY_PEER_MESSAGES        messages in the fan-out, a (default 100000)
 *   FERRY_PEER_WINDOW          sends awaiting their acknowledgement (default 200)
 *   FERRY_PEER_RATE            messages/s of the paced run, b (default 5000)
 *   FERRY_PEER_PACED_MESSAGES  messages of the paced run (default 50000: 10 s at 5000/s)
 *   FERRY_PEER_PACED_WARMUP    messages sent at the paced rate just before b, reported as the row
 *                              "b from idle" (default 5000: one second at 5000/s; 0: none, and
 *                              b includes the step from idle to the rate)
 *   FERRY_PEER_OFFLINE         messages per device enqueued while offline, c (default 50)
 *   FERRY_PEER_REPS            runs per server (default 2: A B B A; 4 is A B B A A B B A)
 *   FERRY_PEER_IDLE            idle connections held at once, d (default 19000; every process
 *                              holding them needs that many file descriptors, ulimit -n)
 *   FERRY_PEER_INGEST_MESSAGES telemetry messages of e (default 100000)
 *   FERRY_PEER_INGEST_INFLIGHT PUBLISHes each device keeps awaiting their PUBACK in e (default 1)
 *   FERRY_PEER_SCENARIOS       which of a,b,c,d,e (default a,b,c; d and e are opt-in)
 *   FERRY_PEER_SERVERS         ferry,mosquitto (default both; one alone gives no ratios)
 *   FERRY_PEER_BODY_BYTES      body size (default 64)
 *   FERRY_PEER_MOSQUITTO       the Mosquitto binary (default /usr/sbin/mosquitto)
 *   FERRY_PEER_MOSQUITTO_CONF  Mosquitto configuration lines (`;` between them) replacing the bench's own of the same
 *                              option, to measure what one costs, e.g. 'autosave_interval 1;max_inflight_messages 0'
 *   FERRY_PEER_LOAD_MAX_CPU    a load process's CPU (% of one core) above which the run is refused (default 90)
 *   FERRY_PEER_LOAD_PROCS      processes per load role: the fleet (the publishers in e), the sender and e's reader
 *                              (default 1 in a, b, c and 2 in e: the peer's best on 2 cores, peer/load-group.ts)
 *   FERRY_PEER_FLEET_PROCS     the fleet's (and e's publishers') processes alone (default FERRY_PEER_LOAD_PROCS)
 *   FERRY_PEER_SENDER_PROCS    the sender's processes alone (default FERRY_PEER_LOAD_PROCS; at most the window)
 *   FERRY_PEER_READER_PROCS    e's readers alone (default FERRY_PEER_LOAD_PROCS; Ferry: at most its partitions,
 *                              each reader reading its share of them; Mosquitto: a shared subscription)
 *   FERRY_BENCH_SYNC           FULL | NORMAL, Ferry's SQLite synchronous (default FULL)
 *   FERRY_STORE_URL            a postgres:// URL: Ferry on PostgreSQL, a fresh schema per run (the
 *                              server CPU column is the hub process's; a PostgreSQL CPU column sums
 *                              every postgres process on the machine: run it on a quiet server)
 *   FERRY_BENCH_ADDRESS        Ferry's loopback address (default 127.0.0.200; Mosquitto takes .201)
 * Looking into Ferry's figures (they cost a little, so not for the table):
 *   FERRY_BENCH_PROFILE        a directory: a CPU profile of each Ferry run (.cpuprofile)
 *   FERRY_BENCH_ALLOC_PROFILE  a directory: instead, a sampled profile of all it allocates (.heapprofile)
 *   FERRY_PEER_QUIET_S         seconds of quiet after Ferry's messaging scenarios before its RSS is read
 *                              again (default 0); each Ferry run prints RSS start / peak / end (peer/memory.ts)
 *   FERRY_PEER_HEAP_DIR        a directory: heap snapshots of the Ferry server at start, after the load, after
 *                              the quiet, and in d with the connections open (scripts/heap-compare.mjs)
 *   FERRY_PEER_DIAG=1          event-loop delay, heap and GC pauses of Ferry and of every load process, every 2 s, on stderr
 *   FERRY_PEER_HUB_NODE_ARGS   node options of the Ferry process, e.g. "--trace-gc-nvp"
 *   FERRY_PEER_LOAD_NODE_ARGS  node options of every load process, e.g. "--cpu-prof --cpu-prof-dir=DIR" (a
 *                              profile per process: where the load side spends its time)
 * A quick look: FERRY_PEER_DEVICES=100 FERRY_PEER_MESSAGES=5000 FERRY_PEER_PACED_MESSAGES=2000
 * FERRY_PEER_OFFLINE=10 FERRY_PEER_REPS=1 npm run bench -- peer
 * Idle connections alone: FERRY_PEER_SCENARIOS=d FERRY_PEER_IDLE=500 FERRY_PEER_REPS=1 npm run bench -- peer
 * Ingest alone: FERRY_PEER_SCENARIOS=e FERRY_PEER_DEVICES=50 FERRY_PEER_INGEST_MESSAGES=2000 FERRY_PEER_REPS=1 npm run bench -- peer
 */
import { cpus, totalmem } from 'node:os';
import { createSasToken } from '@ferry/common';
import type { BenchDevice, HubEndpoint } from './kit/bench-hub.js';
import { benchAddress, benchSync } from './kit/bench-hub.js';
import { type LoadProcess, startLoad } from './kit/load.js';
import type { FerryServerInit } from './peer/ferry-server.js';
import type { FleetDevice, FleetInit } from './peer/fleet.js';
import {
  checkOpenFiles,
  IDLE_CONNECT_CONCURRENCY,
  IDLE_KEEPALIVE_S,
  IDLE_ROW,
  IDLE_WARM_UP,
  type IdleResult,
  measureIdle,
} from './peer/idle.js';
import { INGEST_ROW, measureIngest } from './peer/ingest.js';
import type { ReaderInit } from './peer/ingest-reader.js';
import { DEFAULT_INGEST_PROCS, fleetInits, type LoadGroup, loadProcs, startGroup } from './peer/load-group.js';
import { heapSnapshotArgs, type MemoryMarks, memoryEnd, memoryStart, memoryText } from './peer/memory.js';
import { mosquittoExtraConf, startMosquitto } from './peer/mosquitto.js';
import { postgresCpuUs } from './peer/proc.js';
import { loadCpuLimit, loadCpuText, peerTable, type ServerName, saturatedLoads } from './peer/report.js';
import { type PeerSizes, type RunResult, runScenarios } from './peer/scenarios.js';
import type { SenderInit } from './peer/sender.js';
import { envInt } from './stats.js';

/** The node options in an environment variable (FERRY_PEER_HUB_NODE_ARGS, ...), split on spaces. */
function nodeArgsFrom(variable: string): string[] {
  return (process.env[variable] ?? '').split(' ').filter(Boolean);
}

/** Ferry's default mqtt.maxInflight; Mosquitto gets the same max_inflight_messages. */
const FERRY_MAX_INFLIGHT = 16;

function sizes(): PeerSizes & { reps: number; servers: ServerName[] } {
  const list = (name: string, fallback: string) =>
    (process.env[name] || fallback)
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
  const scenarios = new Set(list('FERRY_PEER_SCENARIOS', 'a,b,c').filter((s) => ['a', 'b', 'c', 'd', 'e'].includes(s)));
  const servers = list('FERRY_PEER_SERVERS', 'ferry,mosquitto').map((s) => {
    if (s === 'ferry') return 'Ferry' as const;
    if (s === 'mosquitto') return 'Mosquitto' as const;
    throw new Error(`FERRY_PEER_SERVERS: unknown server ${s}`);
  });
  return {
    devices: envInt('FERRY_PEER_DEVICES', 1000),
    messages: envInt('FERRY_PEER_MESSAGES', 100_000),
    window: envInt('FERRY_PEER_WINDOW', 200),
    rate: envInt('FERRY_PEER_RATE', 5000),
    pacedMessages: envInt('FERRY_PEER_PACED_MESSAGES', 50_000),
    pacedWarmUp: envInt('FERRY_PEER_PACED_WARMUP', 5000, { zero: true }),
    offlinePerDevice: envInt('FERRY_PEER_OFFLINE', 50),
    bodyBytes: envInt('FERRY_PEER_BODY_BYTES', 64),
    idle: envInt('FERRY_PEER_IDLE', 19_000),
    ingestMessages: envInt('FERRY_PEER_INGEST_MESSAGES', 100_000),
    ingestPerDevice: envInt('FERRY_PEER_INGEST_INFLIGHT', 1),
    reps: envInt('FERRY_PEER_REPS', 2),
    scenarios: scenarios as Set<'a' | 'b' | 'c' | 'd' | 'e'>,
    servers,
  };
}

function mosquittoAddress(): string {
  const parts = benchAddress().split('.');
  parts[3] = String((Number(parts[3]) + 1) % 255);
  return parts.join('.');
}

/** PostgreSQL's CPU meter when Ferry stores there (FERRY_STORE_URL), for Ferry's runs. */
const ferryPgCpu = (): (() => number) | undefined => (process.env.FERRY_STORE_URL ? postgresCpuUs : undefined);

/** The fleet's processes, each with its slice of the devices (FERRY_PEER_FLEET_PROCS). */
function startFleet(script: string, init: FleetInit, procs = loadProcs('fleet')): LoadGroup {
  const inits = fleetInits(init, procs);
  return startGroup(new URL(script, import.meta.url), inits, nodeArgsFrom('FERRY_PEER_LOAD_NODE_ARGS'));
}

async function withLoads(
  fleetInit: FleetInit,
  senderInit: SenderInit,
  pid: number,
  s: PeerSizes,
  pgCpu?: () => number,
): Promise<RunResult> {
  const fleet = startFleet('./peer/fleet.ts', fleetInit);
  const sender = startGroup(
    new URL('./peer/sender.ts', import.meta.url),
    Array.from({ length: loadProcs('sender') }, () => senderInit),
    nodeArgsFrom('FERRY_PEER_LOAD_NODE_ARGS'),
  );
  try {
    return await runScenarios({ pid, fleet, sender, ...(pgCpu && { pgCpu }) }, s);
  } finally {
    await Promise.all([fleet.terminate(), sender.terminate()]);
  }
}

function ferryInit(s: PeerSizes): FerryServerInit {
  return {
    overrides: {
      c2d: { maxQueueDepth: Math.max(50, s.offlinePerDevice + 10) },
      mqtt: { maxInflight: FERRY_MAX_INFLIGHT },
    },
  };
}

function mosquittoOptions(s: PeerSizes) {
  return {
    address: mosquittoAddress(),
    maxInflight: FERRY_MAX_INFLIGHT,
    maxQueued: s.offlinePerDevice + 100,
    extra: mosquittoExtraConf(),
  };
}

/** The fleet's view of Ferry's devices: IoT Hub's MQTT username and a device SAS token (1 h). */
function ferryFleetDevices(endpoint: HubEndpoint, devices: BenchDevice[]): FleetDevice[] {
  const expiry = Math.ceil(Date.now() / 1000) + 3600;
  return devices.map((d) => ({
    clientId: d.deviceId,
    username: `${endpoint.address}/${d.deviceId}/?api-version=2021-04-12`,
    password: createSasToken({ resourceUri: `${endpoint.address}/devices/${d.deviceId}`, key: d.key, expiry }),
  }));
}

/** A fresh Ferry server process for one run: `work` gets it started, and it is stopped after. */
async function withFerry<T>(
  s: PeerSizes,
  work: (server: LoadProcess, endpoint: HubEndpoint, pid: number, partitions: number) => Promise<T>,
): Promise<T> {
  const server = startLoad(
    new URL('./peer/ferry-server.ts', import.meta.url),
    ferryInit(s),
    [...nodeArgsFrom('FERRY_PEER_HUB_NODE_ARGS'), ...heapSnapshotArgs()],
    // Its RSS is reported: JavaScript under plain node, as `ferry hub start` runs, not under tsx.
    { plain: true },
  );
  try {
    const { endpoint, pid, partitions } = await server.call<{ endpoint: HubEndpoint; pid: number; partitions: number }>(
      'start',
    );
    return await work(server, endpoint, pid, partitions);
  } finally {
    await server.call('stop').catch(() => undefined);
    await server.terminate();
  }
}

function runFerry(s: PeerSizes): Promise<{ r: RunResult; memory: MemoryMarks }> {
  return withFerry(s, async (server, endpoint, pid) => {
    const devices = await server.call<BenchDevice[]>('devices', { prefix: 'peer', count: s.devices });
    const fleetDevices = ferryFleetDevices(endpoint, devices);
    const deviceIds = devices.map((d) => d.deviceId);
    const start = await memoryStart(pid);
    const result = await withLoads(
      {
        host: endpoint.address,
        port: endpoint.ports.mqtts,
        ca: endpoint.ca,
        devices: fleetDevices,
        connectConcurrency: 50,
      },
      { kind: 'amqp', endpoint, deviceIds, bodyBytes: s.bodyBytes },
      pid,
      s,
      ferryPgCpu(),
    );
    // The fleet and the sender have gone (their connections closed): the load has stopped.
    return { r: result, memory: await memoryEnd(pid, start) };
  });
}

async function runMosquitto(s: PeerSizes): Promise<RunResult> {
  const broker = await startMosquitto(mosquittoOptions(s));
  try {
    const deviceIds = Array.from({ length: s.devices }, (_, i) => `peer-${i}`);
    return await withLoads(
      {
        host: broker.address,
        port: broker.port,
        ca: broker.ca,
        devices: deviceIds.map((clientId) => ({ clientId })),
        connectConcurrency: 50,
      },
      { kind: 'mqtt', host: broker.address, port: broker.port, ca: broker.ca, deviceIds, bodyBytes: s.bodyBytes },
      broker.pid,
      s,
    );
  } finally {
    await broker.stop();
  }
}

/** Scenario d with a fleet of its own (no sender): IDLE_CONNECT_CONCURRENCY connects in flight. */
async function idleFleet(
  fleetInit: Omit<FleetInit, 'connectConcurrency'>,
  pid: number,
  n: number,
  snapshots = false,
): Promise<IdleResult> {
  const fleet = startFleet('./peer/fleet.ts', {
    ...fleetInit,
    connectConcurrency: IDLE_CONNECT_CONCURRENCY,
    keepalive: IDLE_KEEPALIVE_S,
  });
  try {
    return await measureIdle(pid, fleet, n, snapshots);
  } finally {
    await fleet.terminate();
  }
}

function runFerryIdle(s: PeerSizes): Promise<IdleResult> {
  return withFerry(s, async (server, endpoint, pid) => {
    // The registry's bulk import: 19,000 devices in seconds, not one create each.
    const devices = await server.call<BenchDevice[]>('devices', {
      prefix: 'idle',
      count: s.idle + IDLE_WARM_UP,
      bulk: true,
    });
    return idleFleet(
      {
        host: endpoint.address,
        port: endpoint.ports.mqtts,
        ca: endpoint.ca,
        devices: ferryFleetDevices(endpoint, devices),
      },
      pid,
      s.idle,
      true,
    );
  });
}

async function runMosquittoIdle(s: PeerSizes): Promise<IdleResult> {
  const broker = await startMosquitto(mosquittoOptions(s));
  try {
    const devices = Array.from({ length: s.idle + IDLE_WARM_UP }, (_, i) => ({ clientId: `idle-${i}` }));
    return await idleFleet({ host: broker.address, port: broker.port, ca: broker.ca, devices }, broker.pid, s.idle);
  } finally {
    await broker.stop();
  }
}

/** Scenario e: the publishers (the fleet's devices, as a process of their own) and the reader. */
async function ingest(
  publishersInit: FleetInit,
  readerInits: readonly ReaderInit[],
  pid: number,
  s: PeerSizes,
  pgCpu?: () => number,
) {
  const publishers = startFleet('./peer/publishers.ts', publishersInit, loadProcs('fleet', DEFAULT_INGEST_PROCS));
  const readers = startGroup(
    new URL('./peer/ingest-reader.ts', import.meta.url),
    readerInits,
    nodeArgsFrom('FERRY_PEER_LOAD_NODE_ARGS'),
  );
  try {
    return await measureIngest(
      { pid, publishers, readers, ...(pgCpu && { pgCpu }) },
      { messages: s.ingestMessages, perDevice: s.ingestPerDevice, bodyBytes: s.bodyBytes, devices: s.devices },
    );
  } finally {
    await Promise.all([publishers.terminate(), readers.terminate()]);
  }
}

function runFerryIngest(s: PeerSizes) {
  return withFerry(s, async (server, endpoint, pid, partitions) => {
    const devices = await server.call<BenchDevice[]>('devices', { prefix: 'ingest', count: s.devices, bulk: true });
    const fleet = { host: endpoint.address, port: endpoint.ports.mqtts, ca: endpoint.ca, connectConcurrency: 50 };
    // The readers share out the partitions: reader k reads k, k + R, ...
    const r = Math.min(loadProcs('reader', DEFAULT_INGEST_PROCS), partitions);
    const readers = Array.from({ length: r }, (_, k) => ({
      kind: 'ferry' as const,
      endpoint,
      partitions: Array.from({ length: partitions }, (_, p) => p).filter((p) => p % r === k),
    }));
    return ingest({ ...fleet, devices: ferryFleetDevices(endpoint, devices) }, readers, pid, s, ferryPgCpu());
  });
}

async function runMosquittoIngest(s: PeerSizes) {
  // Each reader's queue holds every message it has not read yet: none dropped for depth.
  const broker = await startMosquitto({ ...mosquittoOptions(s), maxQueued: s.ingestMessages + s.devices });
  try {
    const devices = Array.from({ length: s.devices }, (_, i) => ({ clientId: `ingest-${i}` }));
    const where = { host: broker.address, port: broker.port, ca: broker.ca };
    const r = loadProcs('reader', DEFAULT_INGEST_PROCS);
    // Several readers share one subscription: each message goes to one of them.
    const readers = Array.from({ length: r }, () => ({ kind: 'mqtt' as const, ...where, shared: r > 1 }));
    return await ingest({ ...where, devices, connectConcurrency: 50 }, readers, broker.pid, s);
  } finally {
    await broker.stop();
  }
}

/** Which store the Ferry runs use (FERRY_STORE_URL: PostgreSQL, bench-hub.ts). */
function ferryStoreText(): string {
  const url = process.env.FERRY_STORE_URL;
  if (!url) return `SQLite synchronous=${benchSync()}`;
  // The server's CPU column is the hub process's only: PostgreSQL's is a column of its own.
  return `PostgreSQL (${new URL(url).host}, server CPU = the hub process; PostgreSQL CPU = every postgres process here)`;
}

const mibText = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

export async function run(): Promise<void> {
  const s = sizes();
  const limit = loadCpuLimit();
  const cpu = cpus();
  const messaging = (['a', 'b', 'c'] as const).some((x) => s.scenarios.has(x));
  // The fleet (a child of this process) inherits this process's limit; each server is checked as it starts.
  if (s.scenarios.has('d')) checkOpenFiles('self', 'the fleet', s.idle);
  console.log(
    `peer: ${new Date().toISOString()}, node ${process.version}, ${cpu.length} x ${cpu[0]?.model.trim() ?? 'cpu'}, ` +
      `${Math.round(totalmem() / 2 ** 30)} GiB RAM\n` +
      (messaging
        ? `${s.devices} MQTT/TLS devices (QoS 1, clean session 0), ${s.bodyBytes}-byte bodies, window ${s.window}; ` +
          `a: ${s.messages} messages; b: ${s.pacedMessages} at ${s.rate}/s${s.pacedWarmUp > 0 ? ` after ${s.pacedWarmUp} from idle` : ''}; c: ${s.offlinePerDevice} per device offline; `
        : '') +
      (s.scenarios.has('d')
        ? `d: ${s.idle} idle MQTT/TLS connections (clean session 0, subscribed), ${IDLE_CONNECT_CONCURRENCY} connects ` +
          `in flight, after ${IDLE_WARM_UP} warm-up devices; `
        : '') +
      (s.scenarios.has('e')
        ? `e: ${s.devices} MQTT/TLS devices publishing ${s.ingestMessages} QoS 1 telemetry messages, ` +
          `${s.ingestPerDevice} awaiting PUBACK per device, ${loadProcs('reader', DEFAULT_INGEST_PROCS)} readers; `
        : '') +
      `${s.reps} runs per server; Ferry ${ferryStoreText()}, Mosquitto persistence on` +
      (mosquittoExtraConf().length ? ` with ${mosquittoExtraConf().join(', ')}` : '') +
      '; ' +
      `load: ${loadProcs('fleet')} fleet processes, ${loadProcs('sender')} sender processes` +
      (s.scenarios.has('e')
        ? `, e: ${loadProcs('fleet', DEFAULT_INGEST_PROCS)} publisher and ${loadProcs('reader', DEFAULT_INGEST_PROCS)} reader processes`
        : ''),
  );
  const results = new Map<ServerName, RunResult[]>(s.servers.map((name) => [name, []]));
  for (let rep = 0; rep < s.reps; rep++) {
    const order = rep % 2 === 0 ? s.servers : [...s.servers].reverse();
    for (const name of order) {
      const started = Date.now();
      let r: RunResult = new Map();
      let memory: MemoryMarks | undefined;
      if (messaging && name === 'Ferry') ({ r, memory } = await runFerry(s));
      else if (messaging) r = await runMosquitto(s);
      let idle: IdleResult | undefined;
      if (s.scenarios.has('d')) {
        idle = name === 'Ferry' ? await runFerryIdle(s) : await runMosquittoIdle(s);
        r.set(IDLE_ROW, idle.figures);
      }
      if (s.scenarios.has('e')) r.set(INGEST_ROW, await (name === 'Ferry' ? runFerryIngest(s) : runMosquittoIngest(s)));
      const e = r.get(INGEST_ROW);
      results.get(name)!.push(r);
      const a = r.get('a fan-out');
      console.log(
        `  run ${rep + 1} ${name}: ${((Date.now() - started) / 1000).toFixed(0)} s` +
          (a
            ? `, fan-out ${a.rate} msg/s at ${a.cpuUsPerMsg} µs/msg` +
              (a.pgCpuUsPerMsg === undefined ? '' : ` + PostgreSQL ${a.pgCpuUsPerMsg} µs/msg`) +
              ` (load: fleet ${loadCpuText(a.fleetCpu)}, sender ${loadCpuText(a.senderCpu)})`
            : '') +
          (memory ? `, ${memoryText(memory)}` : '') +
          (idle
            ? `, idle: ${s.idle} at ${idle.figures.connRate} conn/s, RSS ${mibText(idle.before)} -> ` +
              `${mibText(idle.after)} MiB (${idle.figures.rssKiBPerConn} KiB/conn)` +
              (idle.open < s.idle ? `, ONLY ${idle.open} STILL OPEN` : '') +
              (idle.settled ? '' : ', RSS DID NOT SETTLE')
            : '') +
          (e
            ? `, ingest ${e.rate} msg/s at ${e.cpuUsPerMsg} µs/msg, reader lag ${e.lagMs} ms` +
              ` (load: publishers ${loadCpuText(e.fleetCpu)}, reader ${loadCpuText(e.readerCpu)})`
            : ''),
      );
    }
  }
  console.log(`\n${peerTable(results)}`);
  const saturated = saturatedLoads(results, limit);
  if (saturated.length > 0) {
    throw new Error(
      `peer bench REFUSED: a load process was saturated (over ${limit} % of one core), so the figures ` +
        `measure the load generator, not the server:\n  ${saturated.join('\n  ')}`,
    );
  }
}
