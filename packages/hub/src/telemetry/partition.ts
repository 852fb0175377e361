/**
 * The partition of a device's events: a stable hash of its id (FNV-1a over the UTF-8 bytes), so a
 * device's events stay in one partition, in order, across restarts and on every node.
 */
export function partitionOf(deviceId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(deviceId, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
