/**
 * Optional profiles of the hub process during one measured phase. With FERRY_BENCH_PROFILE set to
 * a directory, profile(name) writes `<dir>/<name>.cpuprofile`; with FERRY_BENCH_ALLOC_PROFILE, a
 * sampled allocation profile `<dir>/<name>.heapprofile` of everything allocated, collected or not
 * (what fills the young generation and what gets promoted). Open either in Chrome DevTools or VS
 * Code. Without them, profiling costs nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, join } from 'node:path';

export async function profile<T>(name: string, work: () => Promise<T>): Promise<T> {
  const run = await startProfile(name);
  try {
    return await work();
  } finally {
    await run?.stop();
  }
}

export interface ProfileRun {
  /** Stops profiling and writes `<dir>/<name>.cpuprofile`. */
  stop(): Promise<void>;
}

/**
 * Starts a CPU profile of this process when FERRY_BENCH_PROFILE names a directory, an allocation
 * profile when FERRY_BENCH_ALLOC_PROFILE does; else undefined.
 */
export async function startProfile(name: string): Promise<ProfileRun | undefined> {
  const allocDir = process.env.FERRY_BENCH_ALLOC_PROFILE;
  if (allocDir) return startAllocationProfile(name, allocDir);
  const dir = process.env.FERRY_BENCH_PROFILE;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return writtenOnStop(session, join(dir, `${name}.cpuprofile`), `CPU profile of ${name}`, async () => {
    const { profile } = await session.post('Profiler.stop');
    return profile;
  });
}

/** One allocation sampled per SAMPLE_BYTES allocated, on average. */
const SAMPLE_BYTES = 8192;

async function startAllocationProfile(name: string, dir: string): Promise<ProfileRun> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLE_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as never);
  return writtenOnStop(session, join(dir, `${name}.heapprofile`), `allocation profile of ${name}`, async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    return profile;
  });
}

/** stop(): takes the profile, ends the session, writes the file and says where. */
function writtenOnStop(session: Session, file: string, what: string, take: () => Promise<unknown>): ProfileRun {
  return {
    async stop() {
      const data = await take();
      session.disconnect();
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify(data));
      console.log(`hub ${what}: ${file}`);
    },
  };
}
