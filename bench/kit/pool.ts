/** Bounded concurrency for the load side. */

/** Runs `fn` over `items` with at most `concurrency` at a time; resolves with per-item latencies (ms). */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      const t = process.hrtime.bigint();
      await fn(item);
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return latencies;
}
