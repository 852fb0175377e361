/**
 * FERRY_PEER_DIAG=1: every 2 s, the process's event-loop delay (p50, p99, max), heap (used/total),
 * memory outside the heap (external, of it arrayBuffers: Buffers, TLS records), RSS, glibc's heaps
 * (in use / free, when the native-memory addon is built: what the RSS holds beside V8's heap) and GC
 * pauses by kind (n, longest, total ms), on stderr. For looking into latency and memory, not for the table.
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { loadNativeHeap } from '../../packages/hub/src/observability/native-heap.js';

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const pauses = new Map<string, number[]>();
// Node's GC kinds: 1 scavenge, 2 minor mark-sweep, 4 mark-sweep-compact, 8 incremental, 16 weak callbacks.
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = String((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? '?');
    const list = pauses.get(kind) ?? [];
    list.push(e.duration);
    pauses.set(kind, list);
  }
}).observe({ entryTypes: ['gc'] });

const label = process.env.FERRY_PEER_DIAG_LABEL ?? 'ferry';
const ms = (ns: number) => (ns / 1e6).toFixed(2);
const mib = (n: number) => (n / 2 ** 20).toFixed(0);
const native = await loadNativeHeap(() => undefined);
setInterval(() => {
  const m = process.memoryUsage();
  const gc = [...pauses]
    .map(
      ([kind, d]) =>
        `${kind}: n=${d.length} max=${Math.max(...d).toFixed(1)} sum=${d.reduce((a, b) => a + b, 0).toFixed(0)}`,
    )
    .join(', ');
  console.error(
    `[${label} diag] loop p50=${ms(loop.percentile(50))} p99=${ms(loop.percentile(99))} max=${ms(loop.max)} ms` +
      ` heap=${mib(m.heapUsed)}/${mib(m.heapTotal)} MiB external=${mib(m.external)} (arrayBuffers ${mib(m.arrayBuffers)})` +
      ` MiB rss=${mib(m.rss)} MiB${glibc()} gc ${gc}`,
  );
  loop.reset();
  pauses.clear();
}, 2000).unref();

function glibc(): string {
  const i = native?.info();
  return i ? ` glibc=${mib(i.uordblks)}/${mib(i.fordblks)} MiB (in use/free)` : '';
}
