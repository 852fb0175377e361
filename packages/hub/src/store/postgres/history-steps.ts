/**
 * A message's history rows as PostgreSQL keeps them since migration 16 (history-lean-sql.ts),
 * back to one row per step for visibleSteps and historyEventOf (store/history-rows.ts): an ended
 * copy's row carries its earlier steps (c2d_history.earlier), a pending copy's steps are on its
 * message row (c2d_messages.steps); both are JSON arrays of [kind, at, deliveryCount, lockToken,
 * via, detail], newest first.
 */
import type { HistoryEventKind } from '../types.js';

export interface StepRow {
  seq: number;
  kind: HistoryEventKind;
  at: number;
  delivery_count: number;
  final: number;
  lock_token: string | null;
  via: string | null;
  detail: string | null;
}

/** A stored row: a step of its own (kind set) and/or the steps before it (`earlier`). */
export interface StoredRow {
  seq: string | number;
  kind: HistoryEventKind | null;
  at: string | number | null;
  delivery_count: number | null;
  final: number;
  lock_token: string | null;
  via: string | null;
  detail: string | null;
  earlier: string | null;
}

type PackedStep = [HistoryEventKind, number, number, string | null, string | null, string | null];

/** Every step in order: each row's earlier steps (oldest first), then the row's own. */
export function expandSteps(rows: readonly StoredRow[]): StepRow[] {
  const out: StepRow[] = [];
  for (const r of rows) {
    const seq = Number(r.seq);
    if (r.earlier !== null) {
      const packed = JSON.parse(r.earlier) as PackedStep[];
      for (let i = packed.length - 1; i >= 0; i--) {
        const [kind, at, count, lockToken, via, detail] = packed[i]!;
        out.push({ seq, kind, at, delivery_count: count, final: 0, lock_token: lockToken, via, detail });
      }
    }
    if (r.kind !== null) {
      out.push({
        seq,
        kind: r.kind,
        at: Number(r.at),
        delivery_count: r.delivery_count!,
        final: r.final,
        lock_token: r.lock_token,
        via: r.via,
        detail: r.detail,
      });
    }
  }
  return out;
}
