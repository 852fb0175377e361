/**
 * What the hub uses of glibc's malloc: malloc_trim and mallinfo2, from the native-memory addon
 * (packages/native-memory, issue 29, docs/memory.md). The package is imported by name at run time,
 * not by a static import: a node_modules laid out before the package existed, or an install
 * without it, still builds and runs the hub, only without the trim (as on macOS or musl).
 */

/** mallinfo2's figures over all of glibc's arenas, in bytes (glibc's names; see the package). */
export interface NativeHeapInfo {
  arena: number;
  /** Large allocations mapped on their own. */
  hblkhd: number;
  /** In use inside glibc's heaps. */
  uordblks: number;
  /** Free inside glibc's heaps, pages given back by a trim included. */
  fordblks: number;
  keepcost: number;
}

export interface NativeHeap {
  /** malloc_trim(0): gives back the free whole pages of every arena; whether any were. */
  trim(): boolean;
  info(): NativeHeapInfo;
}

interface NativeMemoryPackage {
  loadNativeMemory(onMissing?: (reason: string) => void): NativeHeap | undefined;
}

const PACKAGE = '@ferry/native-memory';

/** The addon, or undefined (`onMissing` hears why): no glibc, not built, not installed. */
export async function loadNativeHeap(onMissing: (reason: string) => void): Promise<NativeHeap | undefined> {
  let pkg: NativeMemoryPackage;
  try {
    pkg = (await import(PACKAGE)) as NativeMemoryPackage;
  } catch (err) {
    onMissing(`${PACKAGE} is not installed (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  return pkg.loadNativeMemory(onMissing);
}
