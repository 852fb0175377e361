/**
 * Per-device sequence numbers on SQLite. The device's row keeps the next free number (`next_seq`).
 * Once this connection has written alone for a while, an enqueue reserves a block of numbers in
 * the row at once and the device's next enqueues take theirs from memory, so an enqueue does not
 * rewrite the device's row; until then, and while other connections write, a block is one number.
 * Either way the same statement checks that the device is enabled and its queue has room. Memory
 * holds only blocks whose reservation is committed or in the current transaction: what it holds is
 * dropped when a transaction or savepoint rolls back, when another connection has committed, and
 * for a device being deleted. A dropped block leaves a gap, never a number used twice.
 *
 * A number from a block still needs the device enabled and its queue under the depth. The count
 * behind that is a query per enqueue; instead, once it has run, memory keeps an upper bound of the
 * depth (the count, plus one per number handed out since: nothing else adds a row, and whatever
 * removes one only makes the bound looser), and queries again only when the bound reaches the
 * depth. The bound goes with the block, and when the device's record is written (its status may
 * have changed).
 */
import type Database from 'better-sqlite3';

/** Sequence numbers reserved per device at a time once this connection writes alone. */
const SEQ_BLOCK = 1000;
/** Write transactions in a row with no other connection's commit before blocks are reserved. */
export const SEQ_BLOCKS_AFTER = 100;

/** Why an enqueue is refused before any number is taken. */
export type SeqRefusal = 'DeviceNotFound' | 'DeviceMaximumQueueDepthExceeded';

/** Numbers reserved in the device's row: `next` is the next to hand out, `limit` is past the last. */
interface SeqBlock {
  next: number;
  limit: number;
}

export class SequenceNumbers {
  private readonly blocks = new Map<string, SeqBlock>();
  /** Per device with a block, known enabled: an upper bound of its queue's depth (see above). */
  private readonly depthBounds = new Map<string, number>();
  /** Write transactions since another connection last committed (see SEQ_BLOCKS_AFTER). */
  private aloneFor = 0;
  private readonly reserve;
  private readonly enabledDepth;
  private readonly release;

  constructor(db: Database.Database) {
    // Depth, existence, enabled and a reservation in one statement.
    this.reserve = db.prepare<[number, string, string, number], { limit: number }>(
      `UPDATE devices SET next_seq = next_seq + ? WHERE device_id = ? AND status = 'enabled'
       AND (SELECT COUNT(*) FROM c2d_messages WHERE device_id = ?) < ? RETURNING next_seq AS "limit"`,
    );
    // The same checks when the number comes from a block, and why a reservation was refused.
    this.enabledDepth = db.prepare<[string, string], { status: string; depth: number }>(
      `SELECT status, (SELECT COUNT(*) FROM c2d_messages WHERE device_id = ?) AS depth FROM devices
       WHERE device_id = ?`,
    );
    // Gives back what a block did not use, unless another connection has reserved since.
    this.release = db.prepare<[number, string, number]>(
      'UPDATE devices SET next_seq = ? WHERE device_id = ? AND next_seq = ?',
    );
  }

  /** At the start of each write transaction: whether another connection has committed since the last. */
  countTransaction(othersWrote: boolean): void {
    this.aloneFor = othersWrote ? 0 : this.aloneFor + 1;
  }

  /** Drop every block (a transaction or savepoint rolled back, another connection wrote). */
  forget(): void {
    this.blocks.clear();
    this.depthBounds.clear();
  }

  /** The device is being deleted: a device created again with its id starts from its own row. */
  forgetDevice(deviceId: string): void {
    this.blocks.delete(deviceId);
    this.depthBounds.delete(deviceId);
  }

  /** The device's record is being written: its status is read again at its next enqueue. */
  deviceWritten(deviceId: string): void {
    this.depthBounds.delete(deviceId);
  }

  /** Whether any block is held (close then has numbers to give back). */
  holdsBlocks(): boolean {
    return this.blocks.size > 0;
  }

  /** Inside a transaction, on a clean close: give back the unused rest of every block. */
  releaseBlocks(): void {
    for (const [deviceId, block] of this.blocks) {
      if (block.next < block.limit) this.release.run(block.next, deviceId, block.limit);
    }
    this.blocks.clear();
    this.depthBounds.clear();
  }

  /** The device's next sequence number, or why it takes no message now. */
  take(deviceId: string, maxDepth: number): number | SeqRefusal {
    const block = this.blocks.get(deviceId);
    if (block !== undefined && block.next < block.limit) {
      const bound = this.depthBounds.get(deviceId);
      if (bound !== undefined && bound < maxDepth) {
        this.depthBounds.set(deviceId, bound + 1);
        return block.next++;
      }
      return this.refusal(deviceId, maxDepth) ?? block.next++;
    }
    // The bound counted the numbers of the block before; the next one comes from the row.
    this.depthBounds.delete(deviceId);
    const size = this.aloneFor >= SEQ_BLOCKS_AFTER ? SEQ_BLOCK : 1;
    const reserved = this.reserve.get(size, deviceId, deviceId, maxDepth);
    if (!reserved) return this.refusal(deviceId, maxDepth) ?? 'DeviceMaximumQueueDepthExceeded';
    const seq = reserved.limit - size;
    if (size > 1) this.blocks.set(deviceId, { next: seq + 1, limit: reserved.limit });
    return seq;
  }

  private refusal(deviceId: string, maxDepth: number): SeqRefusal | undefined {
    const row = this.enabledDepth.get(deviceId, deviceId);
    // Decision 9: a disabled or unknown device is "not found" for senders, as IoT Hub says.
    if (row?.status !== 'enabled') return 'DeviceNotFound';
    // Decision 2: locked messages count toward the depth.
    if (row.depth >= maxDepth) return 'DeviceMaximumQueueDepthExceeded';
    // With a block, the next numbers come from memory: the bound counts this one.
    if (this.blocks.has(deviceId)) this.depthBounds.set(deviceId, row.depth + 1);
    return undefined;
  }
}
