/**
 * A copy's history steps on SQLite (docs/message-history.md) as one text: each step is a JSON array
 * `[kind, at, deliveryCount, lockToken, via, detail]` (trailing absent fields left out, a missing
 * middle one null) preceded by a comma, so a step is appended with `steps || ?` in the statement
 * the operation already runs, and the text reads back as `[` + text without its first comma + `]`.
 * Migration 12 writes the same text from the rows of migration 10 with json_array().
 */
import { detailJson, historyEvent, type StepDetail, type StoredDetail } from '../history-rows.js';
import type { HistoryEvent, HistoryEventKind } from '../types.js';

/**
 * The text of one step (a leading comma included). `at` as text: a commit's steps share one time,
 * converted once (HistoryTable). Lock tokens are minted by the store (hex digits and dashes), so
 * they are quoted as they are.
 */
export function stepText(kind: HistoryEventKind, at: string, deliveryCount: number, d?: StepDetail): string {
  const head = `,["${kind}",${at},${deliveryCount}`;
  if (d === undefined) return `${head}]`;
  const token = d.lockToken === undefined ? 'null' : `"${d.lockToken}"`;
  const extra = detailJson(d);
  if (extra !== null) return `${head},${token},${quoted(d.via)},${extra}]`;
  if (d.via !== undefined) return `${head},${token},${quoted(d.via)}]`;
  if (d.lockToken !== undefined) return `${head},${token}]`;
  return `${head}]`;
}

/** Protocols and policy names, quoted: a few values, each quoted once. */
const QUOTED = new Map<string, string>();

function quoted(s: string | undefined): string {
  if (s === undefined) return 'null';
  let q = QUOTED.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (QUOTED.size < 256) QUOTED.set(s, q);
  }
  return q;
}

type StoredStep = [HistoryEventKind, number, number, (string | null)?, (string | null)?, (StoredDetail | null)?];

/** A copy's steps text back as the store contract shows them. */
export function eventsOfSteps(seq: number, steps: string): HistoryEvent[] {
  const stored = JSON.parse(`[${steps.slice(1)}]`) as StoredStep[];
  return stored.map(([kind, at, deliveryCount, lockToken, via, d]) =>
    historyEvent(seq, kind, at, deliveryCount, lockToken, via, d),
  );
}
