/**
 * A message's history steps (docs/message-history.md) as both adapters store them: which steps end
 * a copy, the JSON of the rarer fields, and rows back to HistoryEvent.
 */
import type { FeedbackRecord } from '@ferry/common';
import type { HistoryEvent, HistoryEventKind } from './types.js';

/** The steps after which the copy is gone from the queue (retention counts from them). */
export const FINAL: ReadonlySet<HistoryEventKind> = new Set([
  'completed',
  'rejected',
  'expired',
  'purged',
  'deadLettered',
  'requeued',
]);

/** What a step carries beyond its kind, time and count. */
export interface StepDetail {
  lockToken?: string;
  /** delivered: the protocol; enqueued: the policy. */
  via?: string;
  jobId?: string;
  requeuedFrom?: number;
  requeuedAs?: number;
  feedback?: FeedbackRecord;
}

/** Whether the step holds something without a column of its own (detailJson is not null). */
export function hasStoredDetail(d: StepDetail): boolean {
  return d.jobId !== undefined || d.requeuedFrom !== undefined || d.requeuedAs !== undefined || !!d.feedback;
}

/** The JSON of what has no column of its own; null when there is nothing. */
export function detailJson(d: StepDetail | undefined): string | null {
  if (!d || !hasStoredDetail(d)) return null;
  return JSON.stringify({
    jobId: d.jobId,
    requeuedFrom: d.requeuedFrom,
    requeuedAs: d.requeuedAs,
    feedback: d.feedback,
  });
}

/** Drops the copies whose first final step is at or before `cutoff` (the scheduler removes them). */
export function visibleSteps<R extends { seq: number; at: number; final: number }>(rows: R[], cutoff: number): R[] {
  const gone = new Set<number>();
  const seen = new Set<number>();
  for (const r of rows) {
    if (r.final === 1 && !seen.has(r.seq)) {
      seen.add(r.seq);
      if (r.at <= cutoff) gone.add(r.seq);
    }
  }
  return gone.size ? rows.filter((r) => !gone.has(r.seq)) : rows;
}

/** What a stored step's detail holds (detailJson): the fields without a column of their own. */
export type StoredDetail = Omit<StepDetail, 'lockToken' | 'via'>;

/** One step as the store contract shows it: both adapters' readers end here. */
export function historyEvent(
  sequenceNumber: number,
  kind: HistoryEventKind,
  at: number,
  deliveryCount: number,
  lockToken: string | null | undefined,
  via: string | null | undefined,
  d: StoredDetail | null | undefined,
): HistoryEvent {
  const e: HistoryEvent = { sequenceNumber, kind, at, deliveryCount };
  if (lockToken != null) e.lockToken = lockToken;
  if (via != null) {
    if (kind === 'enqueued') e.policy = via;
    else e.protocol = via;
  }
  if (d != null) {
    if (d.jobId !== undefined) e.jobId = d.jobId;
    if (d.requeuedFrom !== undefined) e.requeuedFrom = d.requeuedFrom;
    if (d.requeuedAs !== undefined) e.requeuedAs = d.requeuedAs;
    if (d.feedback) e.feedback = d.feedback;
  }
  return e;
}

/** A stored step (columns as both adapters name them) as the store contract shows it. */
export function historyEventOf(r: {
  seq: number | string;
  kind: HistoryEventKind;
  at: number | string;
  delivery_count: number;
  lock_token: string | null;
  via: string | null;
  detail: string | null;
}): HistoryEvent {
  const detail = r.detail === null ? null : (JSON.parse(r.detail) as StoredDetail);
  return historyEvent(Number(r.seq), r.kind, Number(r.at), r.delivery_count, r.lock_token, r.via, detail);
}
