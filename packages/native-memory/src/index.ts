/**
 * glibc's malloc_trim and mallinfo2 for the hub (issue 29, docs/memory.md), from a Node-API addon
 * (src/native_memory.c) that node-gyp builds at install against the local Node's headers. The
 * install script is written out (`node-gyp rebuild`, npm's own default for a package with a
 * binding.gyp) because npm 11's `npm ci` does not apply that default to a workspace; a failed build
 * does not fail the install. glibc keeps what the process frees in its heaps; Node offers no way
 * to ask for it back. Where there is no glibc (macOS, musl) or the build is missing, there is
 * nothing to load and the hub does without.
 */
import { createRequire } from 'node:module';

/** mallinfo2's figures over all of glibc's arenas, in bytes (glibc's names). */
export interface MallocInfo {
  /** Taken from the system for glibc's heaps (the main heap and the other arenas), in use or free. */
  arena: number;
  /** In chunks glibc mapped on their own (allocations over its mmap threshold). */
  hblkhd: number;
  /** In use by the process, inside the heaps. */
  uordblks: number;
  /**
   * Free inside the heaps, kept for later allocations. Pages malloc_trim gave back stay counted
   * here: the chunks stay in glibc's free lists, only their memory is gone from the RSS.
   */
  fordblks: number;
  /** Free at the top of the main heap (what glibc gives back by itself). */
  keepcost: number;
}

export interface NativeMemory {
  /** malloc_trim(0): gives back the free whole pages of every arena; whether any were. */
  trim(): boolean;
  /** mallinfo2(): it walks glibc's free lists, each arena's under its lock. */
  info(): MallocInfo;
}

const ADDON = '../build/Release/native_memory.node';

/**
 * The addon, or undefined where it cannot work: not Linux, no glibc, or not built (npm ci without
 * a compiler, or with --ignore-scripts). `onMissing` hears why, once per call.
 */
export function loadNativeMemory(onMissing?: (reason: string) => void): NativeMemory | undefined {
  if (process.platform !== 'linux') {
    onMissing?.(`no glibc on ${process.platform}`);
    return undefined;
  }
  let addon: Partial<NativeMemory>;
  try {
    addon = createRequire(import.meta.url)(ADDON) as Partial<NativeMemory>;
  } catch (err) {
    onMissing?.(`the addon was not built (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  // Built without glibc (musl): the module exports nothing.
  if (typeof addon.trim !== 'function' || typeof addon.info !== 'function') {
    onMissing?.('no glibc (the addon exports nothing)');
    return undefined;
  }
  return addon as NativeMemory;
}
