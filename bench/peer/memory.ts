/**
 * The Ferry server's memory over a peer run (docs/memory.md): its RSS when its devices exist and
 * no load has come yet (start), the kernel's high-water mark of its RSS (VmHWM: the peak, however
 * short), and its RSS after the load stopped and FERRY_PEER_QUIET_S seconds of quiet (end).
 * FERRY_PEER_HEAP_DIR: V8 heap snapshots of the server at those points (and of scenario d with its
 * connections open), to compare with scripts/heap-compare.mjs.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { peakRssBytes, procSample } from './proc.js';

export interface MemoryMarks {
  start: number;
  peak: number;
  end: number;
  quietS: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds of quiet after the load before the end RSS is read (FERRY_PEER_QUIET_S, default 0). */
export function quietSeconds(): number {
  const s = Number(process.env.FERRY_PEER_QUIET_S ?? 0);
  if (!Number.isFinite(s) || s < 0) throw new Error('FERRY_PEER_QUIET_S: a number of seconds, 0 or more');
  return s;
}

/** Node options that let the bench ask the server for heap snapshots (none without FERRY_PEER_HEAP_DIR). */
export function heapSnapshotArgs(): string[] {
  const dir = process.env.FERRY_PEER_HEAP_DIR;
  return dir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`] : [];
}

/**
 * Asks the server `pid` for a heap snapshot (SIGUSR2) and waits until its file is written whole
 * (its size unchanged for a second). Logs the file's name with `label`; nothing without FERRY_PEER_HEAP_DIR.
 */
export async function heapSnapshot(pid: number, label: string): Promise<void> {
  const dir = process.env.FERRY_PEER_HEAP_DIR;
  if (!dir) return;
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  let file: string | undefined;
  let size = -1;
  for (;;) {
    await sleep(1000);
    file ??= readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (file) {
      const now = statSync(join(dir, file)).size;
      if (now === size && now > 0) break;
      size = now;
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot from pid ${pid} in ${dir} after 120 s`);
  }
  console.error(`[heap] ${label}: ${join(dir, file)}`);
}

/** The start mark: the server's RSS now, and a heap snapshot if asked. */
export async function memoryStart(pid: number): Promise<number> {
  await heapSnapshot(pid, 'start');
  return procSample(pid).rss;
}

/** After the load: the peak so far, then quiet, then the end RSS (and a snapshot before and after the quiet). */
export async function memoryEnd(pid: number, start: number): Promise<MemoryMarks> {
  const quietS = quietSeconds();
  await heapSnapshot(pid, 'after load');
  await sleep(quietS * 1000);
  const end = procSample(pid).rss;
  const peak = peakRssBytes(pid);
  await heapSnapshot(pid, `after ${quietS} s quiet`);
  return { start, peak, end, quietS };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

export function memoryText(m: MemoryMarks): string {
  return (
    `server RSS start ${mib(m.start)} / peak ${mib(m.peak)} / end ${mib(m.end)} MiB ` +
    `(end ÷ start ${(m.end / m.start).toFixed(2)}, end read after ${m.quietS} s of quiet)`
  );
}
