/**
 * Which outcomes leave a feedback record, and what the record says (spec c2d-semantics §3).
 * Pure, so every store adapter applies the same rules inside its own transaction.
 */
import type { Ack, FeedbackRecord, FeedbackStatus } from '@ferry/common';

/** positive: Success only; negative: every dead-letter (Purged included, decision 6); full: both. */
export function wantsFeedback(ack: Ack, status: FeedbackStatus): boolean {
  switch (ack) {
    case 'full':
      return true;
    case 'positive':
      return status === 'Success';
    case 'negative':
      return status !== 'Success';
    default:
      return false;
  }
}

export function feedbackRecord(
  status: FeedbackStatus,
  m: { deviceId: string; messageId: string | null | undefined },
  deviceGenerationId: string,
  now: number,
): FeedbackRecord {
  return {
    originalMessageId: m.messageId ?? '',
    enqueuedTimeUtc: new Date(now).toISOString(),
    statusCode: status,
    // The docs show description = "Success"; for the other statuses we use the status name too.
    description: status,
    deviceId: m.deviceId,
    deviceGenerationId,
  };
}
