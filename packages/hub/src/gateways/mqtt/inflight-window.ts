/**
 * The QoS 1 publishes of one connection awaiting their PUBACK, by packet id, in publish order: a
 * ring of two arrays that only grow (to the window's size). A Map of packet ids rebuilt its table
 * as a window of one or two messages filled and emptied, a few hundred bytes per message.
 *
 * Lookups scan from the oldest: PUBACKs come in publish order (MQTT-4.6.0-2), so the one
 * acknowledged is nearly always the first. Whether a packet id is free is answered without a scan
 * while the ids in flight increase from the oldest's (counted modulo the id space), which they do
 * until the ids wrap round past one still in flight; then, and until the window empties, it scans.
 */
import type { Delivery } from '@ferry/common';

/** Packet ids are 1..65535 (MQTT-2.3.1-1: never 0). */
const ID_SPACE = 0xffff;

export class InflightWindow {
  private ids: number[] = [];
  private items: Array<Delivery | undefined> = [];
  /** The slot of the oldest. */
  private head = 0;
  private count = 0;
  /** The ids, from the oldest, increase (see offset). */
  private ordered = true;

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    if (this.count === 0) return false;
    if (this.ordered && this.offset(id) > this.offset(this.idAt(this.count - 1))) return false;
    return this.find(id) !== -1;
  }

  /** Adds the newest publish (`id` is not in flight). */
  add(id: number, d: Delivery): void {
    if (this.count === this.ids.length) this.grow();
    if (this.count > 0 && this.offset(id) <= this.offset(this.idAt(this.count - 1))) this.ordered = false;
    const at = this.slot(this.count);
    this.ids[at] = id;
    this.items[at] = d;
    this.count++;
  }

  /** Removes and returns the publish of `id`; undefined when it is not in flight. */
  take(id: number): Delivery | undefined {
    const k = this.find(id);
    return k === -1 ? undefined : this.removeAt(k);
  }

  /** The publishes in flight, oldest first (a copy: the window may change while it is read). */
  entries(): Array<[number, Delivery]> {
    const out: Array<[number, Delivery]> = [];
    for (let k = 0; k < this.count; k++) out.push([this.idAt(k), this.items[this.slot(k)]!]);
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
    this.ordered = true;
  }

  /** Position of `id` from the oldest, -1 when it is not in flight. */
  private find(id: number): number {
    for (let k = 0; k < this.count; k++) if (this.idAt(k) === id) return k;
    return -1;
  }

  private removeAt(k: number): Delivery {
    const d = this.items[this.slot(k)]!;
    if (k === 0) {
      this.items[this.head] = undefined;
      this.head = this.slot(1);
    } else {
      // Those after it move one place towards the oldest, keeping their order.
      for (let j = k; j < this.count - 1; j++) {
        const to = this.slot(j);
        const from = this.slot(j + 1);
        this.ids[to] = this.ids[from]!;
        this.items[to] = this.items[from];
      }
      this.items[this.slot(this.count - 1)] = undefined;
    }
    this.count--;
    if (this.count === 0) {
      this.head = 0;
      this.ordered = true;
    }
    return d;
  }

  private grow(): void {
    const size = Math.max(4, this.ids.length * 2);
    const ids = new Array<number>(size).fill(0);
    const items = new Array<Delivery | undefined>(size).fill(undefined);
    for (let k = 0; k < this.count; k++) {
      ids[k] = this.idAt(k);
      items[k] = this.items[this.slot(k)];
    }
    this.ids = ids;
    this.items = items;
    this.head = 0;
  }

  private slot(k: number): number {
    return (this.head + k) % this.ids.length;
  }

  private idAt(k: number): number {
    return this.ids[this.slot(k)]!;
  }

  /** How far `id` comes after the oldest's id, counting round the id space. */
  private offset(id: number): number {
    return (id - this.idAt(0) + ID_SPACE) % ID_SPACE;
  }
}
