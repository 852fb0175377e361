/**
 * Optional CPU profile of the hub process during one measured phase: with FERRY_BENCH_PROFILE set
 * to a directory, profile(name) writes `<dir>/<name>.cpuprofile` (open it in Chrome DevTools or
 * VS Code). Without it, profiling costs nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

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

/** Starts a CPU profile of this process when FERRY_BENCH_PROFILE names a directory; else undefined. */
export async function startProfile(name: string): Promise<ProfileRun | undefined> {
  const dir = process.env.FERRY_BENCH_PROFILE;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile: data } = await session.post('Profiler.stop');
      session.disconnect();
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.cpuprofile`);
      writeFileSync(file, JSON.stringify(data));
      console.log(`hub CPU profile of ${name}: ${file}`);
    },
  };
}
