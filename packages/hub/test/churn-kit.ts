/**
 * Kit for the connection-churn test (issue 29): a full garbage collection without starting node
 * with --expose-gc (the flag is set for this test process only, from inside it), and a count of
 * the objects still reachable among those a test tracked (WeakRefs, checked after a full GC).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

/** Objects tracked by name; `alive()` collects garbage first, then counts what is still reachable. */
export class HeapTally {
  private readonly refs = new Map<string, Array<WeakRef<object>>>();
  private readonly seen = new WeakSet<object>();

  track(kind: string, obj: object): void {
    if (this.seen.has(obj)) return;
    this.seen.add(obj);
    const list = this.refs.get(kind) ?? [];
    this.refs.set(kind, list);
    list.push(new WeakRef(obj));
  }

  tracked(kind: string): number {
    return this.refs.get(kind)?.length ?? 0;
  }

  /** Live count per kind after a full GC (a few turns first, so that closes settle). */
  async alive(): Promise<Record<string, number>> {
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((r) => setImmediate(r));
      fullGc();
    }
    const out: Record<string, number> = {};
    for (const [kind, list] of this.refs) out[kind] = list.filter((r) => r.deref() !== undefined).length;
    return out;
  }
}

/** Reads a private field of a hub object by name (the test counts the hub's own registries). */
export function field<T>(obj: object, name: string): T {
  const value = (obj as Record<string, unknown>)[name];
  if (value === undefined) throw new Error(`no field ${name} on ${obj.constructor.name}`);
  return value as T;
}

/** The size of a Map or Set held in a private field. */
export function sizeOf(obj: object, name: string): number {
  return field<{ size: number }>(obj, name).size;
}

/** Runs `count` jobs, `parallel` at a time (each worker takes the next index). */
export async function inParallel(count: number, parallel: number, job: (i: number, worker: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async (_, worker) => {
      while (next < count) await job(next++, worker);
    }),
  );
}
