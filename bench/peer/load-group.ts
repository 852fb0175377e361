/**
 * One role of the peer benchmark's load side (the fleet, the sender, the publishers) as several
 * processes. On two cores shared with the server, one Node process per role was the bottleneck
 * (Mosquitto's fleet at 73-76 % of a core in the fan-out, its publisher at 96 % in ingest): a
 * role split over P processes has P event loops, and the bench refuses a run in which any one of
 * them was saturated (report.ts). The shares: merge.ts.
 *
 * How many: FERRY_PEER_LOAD_PROCS for every role, or FERRY_PEER_FLEET_PROCS (the fleet, and the
 * publishers of e), FERRY_PEER_SENDER_PROCS (the sender) and FERRY_PEER_READER_PROCS (e's readers)
 * apart. The defaults give the peer its best figures on the 2-core machine the README's tables come
 * from (docs/benchmarks.md, 2026-12-07): one process per role in a, b and c, where the lean load
 * processes stay near half a core and a second process each only adds contention for the two cores
 * (Mosquitto's fan-out: 16,415 msg/s with one, 11,927 with two); two in e, whose one publisher
 * process ran at 89 % of a core against Mosquitto, next to the refusal line.
 */
import { type LoadProcess, startLoad } from '../kit/load.js';
import { envInt } from '../stats.js';
import type { FleetInit } from './fleet.js';
import { shares, slices } from './merge.js';

export const DEFAULT_LOAD_PROCS = 1;
/** e's publishers and readers. */
export const DEFAULT_INGEST_PROCS = 2;

export type LoadRole = 'fleet' | 'sender' | 'reader';

/** Processes of a role, from the environment; `fallback` when it says nothing. */
export function loadProcs(role: LoadRole, fallback = DEFAULT_LOAD_PROCS): number {
  const all = envInt('FERRY_PEER_LOAD_PROCS', fallback);
  return envInt(`FERRY_PEER_${role.toUpperCase()}_PROCS`, all);
}

export interface LoadGroup {
  readonly size: number;
  /** Runs `cmd` with the same `arg` in every process; their answers in process order. */
  all<T>(cmd: string, arg?: unknown): Promise<T[]>;
  /** Runs `cmd` in every process with the argument `argOf(k)` for process k. */
  each<T>(cmd: string, argOf: (k: number) => unknown): Promise<T[]>;
  terminate(): Promise<void>;
}

/**
 * A process per init, each running `script` bundled to JavaScript under plain node (kit/load.ts):
 * without tsx's loader thread (about 38 MiB of RSS a process, kit/load.ts) and without compiling
 * TypeScript at start, on a machine the load shares with the server.
 */
export function startGroup(script: URL, inits: readonly unknown[], nodeArgs: readonly string[] = []): LoadGroup {
  const procs: LoadProcess[] = inits.map((init) => startLoad(script, init, nodeArgs, { plain: true }));
  return {
    size: procs.length,
    all: <T>(cmd: string, arg?: unknown) => Promise.all(procs.map((p) => p.call<T>(cmd, arg))),
    each: <T>(cmd: string, argOf: (k: number) => unknown) => Promise.all(procs.map((p, k) => p.call<T>(cmd, argOf(k)))),
    terminate: async () => {
      await Promise.all(procs.map((p) => p.terminate()));
    },
  };
}

/**
 * FleetInit for each of `procs` processes: the devices in contiguous slices (each knows where its
 * slice starts in the whole fleet, to count the messages that will come to it), the connects in
 * flight shared out so the total stays init.connectConcurrency.
 */
export function fleetInits(init: FleetInit, procs: number): FleetInit[] {
  const n = Math.min(procs, init.devices.length);
  const concurrency = shares(init.connectConcurrency, n);
  return slices(init.devices.length, n).map(({ from, to }, k) => ({
    ...init,
    devices: init.devices.slice(from, to),
    connectConcurrency: Math.max(1, concurrency[k]!),
    offset: from,
    fleetSize: init.devices.length,
  }));
}
