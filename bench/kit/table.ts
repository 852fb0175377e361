/** Row shapes shared by the end-to-end benchmark tables. */
import { type LatencySummary, mib, perItem, rate } from './measure.js';

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
