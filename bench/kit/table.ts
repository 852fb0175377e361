/** Row shapes shared by the end-to-end benchmark tables. */
import { type LatencySummary, type MemorySnapshot, mib, perItem, rate, spanMs } from './measure.js';
import type { TrafficResult } from './traffic.js';

/** One phase: how many, how fast over its wall time, latency, CPU of each process. */
export function row(
  step: string,
  count: number,
  wallMs: number,
  latency: LatencySummary | undefined,
  hubCpu: number,
  loadCpu: number,
) {
  return {
    step,
    count,
    'per s': rate(count, wallMs),
    'p50 ms': latency?.p50 ?? '',
    'p99 ms': latency?.p99 ?? '',
    'wall ms': Math.round(wallMs),
    'hub CPU %': hubCpu,
    'load CPU %': loadCpu,
  };
}

/** One memory figure before and after connecting `n` clients (and after traffic when known). */
export function memRow(what: string, before: number, connected: number, afterTraffic: number | undefined, n: number) {
  return {
    memory: what,
    'before MiB': mib(before),
    'connected MiB': mib(connected),
    'after traffic MiB': afterTraffic === undefined ? '' : mib(afterTraffic),
    'per connection B': perItem(before, connected, n),
  };
}

/** The three rows of the "one message at a time" phase every end-to-end bench ends with. */
export function oneAtATimeRows(probe: TrafficResult, probes: number, tCompleted: bigint, hubCpu: number) {
  return [
    row('one at a time: accepted', probe.accept.count, spanMs(probe.t0, probe.tSent), probe.accept, hubCpu, probe.cpu),
    row(
      'one at a time: delivered',
      probe.endToEnd.count,
      spanMs(probe.t0, probe.tReceived),
      probe.endToEnd,
      hubCpu,
      probe.cpu,
    ),
    row('one at a time: completed', probes, spanMs(probe.t0, tCompleted), undefined, hubCpu, probe.cpu),
  ];
}

/** Hub and load-process memory before connecting, connected, and (hub only) after traffic. */
export function memoryRows(
  hub: readonly [MemorySnapshot, MemorySnapshot, MemorySnapshot],
  load: readonly [MemorySnapshot, MemorySnapshot],
  devices: number,
) {
  const [hub0, hub1, hub2] = hub;
  const [load0, load1] = load;
  return [
    memRow('hub heap', hub0.heapUsed, hub1.heapUsed, hub2.heapUsed, devices),
    memRow('hub external', hub0.external, hub1.external, hub2.external, devices),
    memRow('hub process RSS', hub0.rss, hub1.rss, hub2.rss, devices),
    memRow('load process heap (clients)', load0.heapUsed, load1.heapUsed, undefined, devices),
    memRow('load process RSS (clients)', load0.rss, load1.rss, undefined, devices),
  ];
}
