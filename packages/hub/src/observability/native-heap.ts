/**
 * What the hub uses of glibc's malloc: malloc_trim and mallinfo2, from the native-memory addon
 * (packages/native-memory, issue 29, docs/memory.md). The package is imported by name at run time,
 * not by a static import: an install without it (or without its build, as on macOS or musl) still
 * runs the hub, only without the trim. Its types are the package's own.
 */
import type { NativeMemory } from '@ferry/native-memory';

export type { MallocInfo as NativeHeapInfo, NativeMemory as NativeHeap } from '@ferry/native-memory';

const PACKAGE = '@ferry/native-memory';

/** The addon, or undefined (`onMissing` hears why): no glibc, not built, not installed. */
export async function loadNativeHeap(onMissing: (reason: string) => void): Promise<NativeMemory | undefined> {
  let pkg: typeof import('@ferry/native-memory');
  try {
    pkg = await import(PACKAGE);
  } catch (err) {
    onMissing(`${PACKAGE} is not installed (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  return pkg.loadNativeMemory(onMissing);
}
