/**
 * A copy's history steps on SQLite (docs/message-history.md) as one text: each step is a JSON array
 * `[kind, at, deliveryCount, lockToken, via, detail]` (trailing absent fields left out, a missing
 * middle one null) preceded by a comma, so a step is appended with `steps || ?` in the statement
 * the operation already runs, and the text reads back as `[` + text without its first comma + `]`.
 * Migration 12 writes the same text from the rows of migration 10 with json_array().
 */
import { detailJson, hasStoredDetail, historyEvent, type StepDetail, type StoredDetail } from '../history-rows.js';
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

/**
 * stepText for the steps of the hot path, with the parts they repeat made once: a commit's steps
 * share one time, the enqueues of one sender give the same text (no lock token, no detail), and a
 * delivery's step is a head (kind, time, count, opening quote) + its lock token + a tail (protocol),
 * two concatenations instead of a dozen. Each cache holds its last value only. Same text as stepText.
 */
export class StepTexts {
  private atNumber = Number.NaN;
  private atText = '';
  /** The last step without lock token or detail (its kind, count, via and text). */
  private plainKind = '';
  private plainCount = -1;
  private plainVia: string | undefined;
  private plainText = '';
  /** The last `,["kind",at,count,"` written before a lock token. */
  private openKind = '';
  private openCount = -1;
  private openText = '';
  private completedText = '';

  /** The time as text (a commit's steps share it, converted once). */
  at(now: number): string {
    if (now !== this.atNumber) {
      this.atNumber = now;
      this.atText = String(now);
      this.plainCount = -1;
      this.openCount = -1;
      this.completedText = '';
    }
    return this.atText;
  }

  text(kind: HistoryEventKind, now: number, deliveryCount: number, d?: StepDetail): string {
    const at = this.at(now);
    if (d !== undefined && hasStoredDetail(d)) return stepText(kind, at, deliveryCount, d);
    const via = d?.via;
    const lockToken = d?.lockToken;
    if (lockToken === undefined) {
      if (kind !== this.plainKind || deliveryCount !== this.plainCount || via !== this.plainVia) {
        this.plainKind = kind;
        this.plainCount = deliveryCount;
        this.plainVia = via;
        this.plainText = stepText(kind, at, deliveryCount, d);
      }
      return this.plainText;
    }
    if (kind !== this.openKind || deliveryCount !== this.openCount) {
      this.openKind = kind;
      this.openCount = deliveryCount;
      this.openText = `,["${kind}",${at},${deliveryCount},"`;
    }
    return this.openText + lockToken + tokenTail(via);
  }

  /** The opening of a completed step whose delivery count the statement appends (history-table.ts). */
  completedOpen(now: number): string {
    const at = this.at(now);
    if (this.completedText === '') this.completedText = `,["completed",${at},`;
    return this.completedText;
  }
}

/** What follows a lock token: its closing quote, then the protocol when there is one. */
const TAILS = new Map<string | undefined, string>([[undefined, '"]']]);

function tokenTail(via: string | undefined): string {
  let tail = TAILS.get(via);
  if (tail === undefined) {
    tail = `",${quoted(via)}]`;
    if (TAILS.size < 256) TAILS.set(via, tail);
  }
  return tail;
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
