/**
 * CPU time and resident memory of another process, from /proc/<pid>/stat (Linux): utime + stime
 * (fields 14 and 15, in clock ticks, all threads) and rss (field 24, in pages). What the peer
 * benchmark charges each server with, the same way for Mosquitto and for Ferry. And the open-files
 * limit, which caps how many connections a process can hold.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

function sysconf(name: string, fallback: number): number {
  const r = spawnSync('getconf', [name], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

const TICKS_PER_S = sysconf('CLK_TCK', 100);
const PAGE_BYTES = sysconf('PAGESIZE', 4096);

export interface ProcSample {
  /** User + system CPU time so far, µs. */
  cpuUs: number;
  /** Resident set, bytes. */
  rss: number;
}

export function procSample(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return { cpuUs: (ticks * 1e6) / TICKS_PER_S, rss: Number(fields[24 - 3]) * PAGE_BYTES };
}

/**
 * CPU time of every postgres process on this machine so far, µs: the backends serving the hub and
 * the WAL writer, checkpointer and the rest that work for them. Server-wide, so other work on the
 * same PostgreSQL shows up too: take figures on a quiet server.
 */
export function postgresCpuUs(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[14 - 3]) + Number(fields[15 - 3]);
    } catch {
      // the process went away meanwhile
    }
  }
  return (ticks * 1e6) / TICKS_PER_S;
}

/** The high-water mark of a process's resident set (VmHWM in /proc/<pid>/status), bytes. */
export function peakRssBytes(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** The soft limit on open files (RLIMIT_NOFILE) of a process, from /proc/<pid>/limits. */
export function openFilesLimit(pid: number | 'self'): number {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}
