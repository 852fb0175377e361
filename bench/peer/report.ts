/**
 * The peer benchmark's one table: per scenario, Ferry's and Mosquitto's medians over their runs
 * and each figure's ratio Ferry ÷ Mosquitto; messages lost and duplicated are totals over all
 * runs. Printed as Markdown, ready for the README. A column no row has a figure for is left out
 * (the connection columns appear with scenario d, the message columns only with a, b or c).
 * Each load role (fleet, sender, reader) may be several processes (load-group.ts): its columns
 * give the busiest process's CPU (max, what the refusal looks at) and the role's sum.
 */
import type { Figures, RunResult } from './scenarios.js';

export type ServerName = 'Ferry' | 'Mosquitto';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** total: summed over runs, no ratio; own: the harness's figure, no ratio either. */
type Column = { head: string; value: (f: Figures) => number | undefined; total?: boolean; own?: boolean };

const key =
  (k: Exclude<keyof Figures, LoadKey>) =>
  (f: Figures): number | undefined =>
    f[k];
type LoadKey = 'fleetCpu' | 'senderCpu' | 'readerCpu';
const maxOf = (k: LoadKey) => (f: Figures) => (f[k]?.length ? Math.max(...f[k]) : undefined);
const sumOf = (k: LoadKey) => (f: Figures) => (f[k]?.length ? f[k].reduce((a, b) => a + b, 0) : undefined);

const COLUMNS: Column[] = [
  { head: 'msg/s', value: key('rate') },
  { head: 'conn/s', value: key('connRate') },
  { head: 'p50 ms', value: key('p50') },
  { head: 'p99 ms', value: key('p99') },
  { head: 'p99.9 ms', value: key('p999') },
  { head: 'reader lag ms', value: key('lagMs') },
  { head: 'server CPU µs/msg', value: key('cpuUsPerMsg') },
  // Ferry on PostgreSQL: its database's CPU beside the hub's (Mosquitto has none: no ratio).
  { head: 'PostgreSQL CPU µs/msg', value: key('pgCpuUsPerMsg') },
  { head: 'server CPU µs/conn', value: key('cpuUsPerConn') },
  { head: 'server RSS MiB', value: key('rssMiB') },
  { head: 'server RSS KiB/conn', value: key('rssKiBPerConn') },
  { head: 'lost', value: key('lost'), total: true },
  { head: 'dup', value: key('dup'), total: true },
  { head: 'fleet CPU % max', value: maxOf('fleetCpu'), own: true },
  { head: 'fleet CPU % sum', value: sumOf('fleetCpu'), own: true },
  { head: 'sender CPU % max', value: maxOf('senderCpu'), own: true },
  { head: 'sender CPU % sum', value: sumOf('senderCpu'), own: true },
  { head: 'reader CPU % max', value: maxOf('readerCpu'), own: true },
  { head: 'reader CPU % sum', value: sumOf('readerCpu'), own: true },
];

/**
 * A load process above this share of one core (user + system per wall second) over a scenario's
 * window set the pace itself: the server was not driven as hard as it can be, so the run is
 * refused. FERRY_PEER_LOAD_MAX_CPU changes it (a figure in %).
 */
export function loadCpuLimit(): number {
  const v = Number(process.env.FERRY_PEER_LOAD_MAX_CPU ?? 90);
  if (!Number.isFinite(v) || v <= 0) throw new Error('FERRY_PEER_LOAD_MAX_CPU must be a percentage above 0');
  return v;
}

/** The per-process CPU figures of a role as text: "74 %" for one process, "48 + 51 %" for two. */
export function loadCpuText(cpu: readonly number[] | undefined): string {
  return cpu?.length ? `${cpu.join(' + ')} %` : '-';
}

/** Every (server, run, scenario, load process) whose CPU went over `limit` %, as a sentence. */
export function saturatedLoads(results: ReadonlyMap<ServerName, RunResult[]>, limit: number): string[] {
  const out: string[] = [];
  for (const [server, runs] of results) {
    runs.forEach((r, i) => {
      for (const [scenario, f] of r) {
        for (const [name, cpus] of [
          ['fleet (or publishers)', f.fleetCpu],
          ['sender', f.senderCpu],
          ['reader', f.readerCpu],
        ] as const) {
          (cpus ?? []).forEach((cpu, k) => {
            if (cpu <= limit) return;
            out.push(
              `${server} run ${i + 1}, "${scenario}": ${name} process ${k + 1} of ${cpus!.length} used ${cpu} % of one core`,
            );
          });
        }
      }
    });
  }
  return out;
}

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '';
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US');
  return String(Math.round(x * 100) / 100);
}

/** Median (or total) of one figure over a server's runs; undefined when no run has it. */
function figure(runs: RunResult[], scenario: string, c: Column): number | undefined {
  const xs = runs
    .map((r) => {
      const f = r.get(scenario);
      return f && c.value(f);
    })
    .filter((x): x is number => typeof x === 'number');
  if (xs.length === 0) return undefined;
  return c.total ? xs.reduce((a, b) => a + b, 0) : median(xs);
}

export function peerTable(results: ReadonlyMap<ServerName, RunResult[]>): string {
  const scenarios: string[] = [];
  for (const runs of results.values()) {
    for (const r of runs) for (const s of r.keys()) if (!scenarios.includes(s)) scenarios.push(s);
  }
  const columns = COLUMNS.filter((c) =>
    [...results.values()].some((runs) => runs.some((r) => [...r.values()].some((f) => c.value(f) !== undefined))),
  );
  const lines = [
    `| scenario | server | ${columns.map((c) => c.head).join(' | ')} |`,
    `|---|---|${columns.map(() => '---:').join('|')}|`,
  ];
  for (const s of scenarios) {
    const values = new Map<ServerName, Array<number | undefined>>();
    for (const [server, runs] of results) {
      const v = columns.map((c) => figure(runs, s, c));
      values.set(server, v);
      lines.push(`| ${s} | ${server} (${runs.length} runs) | ${v.map(fmt).join(' | ')} |`);
    }
    const f = values.get('Ferry');
    const m = values.get('Mosquitto');
    if (f && m) {
      const ratios = columns.map((c, i) => {
        const a = f[i];
        const b = m[i];
        if (c.total || c.own || a === undefined || b === undefined || b === 0) return '';
        return `${(a / b).toFixed(2)}×`;
      });
      lines.push(`| ${s} | Ferry ÷ Mosquitto | ${ratios.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}
