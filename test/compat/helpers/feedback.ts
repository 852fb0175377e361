/** The HTTPS feedback endpoints (spec c2d-semantics.md 3.3-3.5, 7.4) with a ServiceConnect token. */
import assert from 'node:assert/strict';
import { type HubProcess, hubRequest } from '../harness.js';
import { serviceSas } from './auth.js';
import type { RawResponse } from './hub-error.js';
import { API } from './send.js';
import { type WaitOptions, waitFor } from './wait.js';

export const FEEDBACK_PATH = '/messages/serviceBound/feedback';
export const FEEDBACK_CONTENT_TYPE = 'application/vnd.microsoft.iothub.feedback.json';

export interface FeedbackRecord {
  originalMessageId: string;
  deviceId: string;
  deviceGenerationId: string;
  statusCode: string;
  description: string;
  enqueuedTimeUtc: string;
}

export interface FeedbackBatch {
  lockToken: string;
  records: FeedbackRecord[];
  headers: Record<string, string | string[] | undefined>;
}

export async function receiveFeedbackRaw(hub: HubProcess, authorization = serviceSas(hub)): Promise<RawResponse> {
  return hubRequest(hub, 'GET', `${FEEDBACK_PATH}?${API}`, { headers: { authorization } });
}

/** One locked feedback batch (200) or undefined (204). */
export async function receiveFeedback(hub: HubProcess): Promise<FeedbackBatch | undefined> {
  const res = await receiveFeedbackRaw(hub);
  if (res.status === 204) return undefined;
  const text = res.body.toString('utf8');
  assert.equal(res.status, 200, `feedback receive: expected 200 or 204, got ${res.status} ${text.slice(0, 300)}`);
  const etag = res.headers.etag;
  assert.equal(typeof etag, 'string', 'a feedback batch carries an ETag (its lock token)');
  assert.match(etag as string, /^".+"$/, 'the ETag is quoted');
  const records: unknown = JSON.parse(text);
  assert.ok(Array.isArray(records), `the feedback body is a JSON array: ${text.slice(0, 300)}`);
  return { lockToken: (etag as string).slice(1, -1), records: records as FeedbackRecord[], headers: res.headers };
}

/** Polls until a batch arrives. */
export async function waitForFeedback(hub: HubProcess, opts: WaitOptions = {}): Promise<FeedbackBatch> {
  return waitFor(() => receiveFeedback(hub), { what: 'a feedback batch', ...opts });
}

export async function completeFeedbackRaw(hub: HubProcess, lockToken: string): Promise<RawResponse> {
  return hubRequest(hub, 'DELETE', `${FEEDBACK_PATH}/${lockToken}?${API}`, {
    headers: { authorization: serviceSas(hub) },
  });
}

export async function abandonFeedbackRaw(hub: HubProcess, lockToken: string): Promise<RawResponse> {
  return hubRequest(hub, 'POST', `${FEEDBACK_PATH}/${lockToken}/abandon?${API}`, {
    headers: { authorization: serviceSas(hub) },
    body: '',
  });
}

export async function completeFeedback(hub: HubProcess, lockToken: string): Promise<void> {
  const res = await completeFeedbackRaw(hub, lockToken);
  assert.equal(
    res.status,
    204,
    `feedback complete: expected 204, got ${res.status} ${res.body.toString('utf8').slice(0, 300)}`,
  );
}

/**
 * Receives and completes batches until `count` records are in hand (or the deadline passes).
 * Records from every batch are returned in arrival order.
 */
export async function collectFeedback(
  hub: HubProcess,
  count: number,
  opts: WaitOptions = {},
): Promise<FeedbackRecord[]> {
  const out: FeedbackRecord[] = [];
  await waitFor(
    async () => {
      const batch = await receiveFeedback(hub);
      if (batch) {
        out.push(...batch.records);
        await completeFeedback(hub, batch.lockToken);
      }
      return out.length >= count ? true : undefined;
    },
    { what: `${count} feedback records`, ...opts },
  );
  return out;
}

/** Asserts a record's full shape; `expect` gives the fields to match exactly. */
export function assertRecord(record: FeedbackRecord, expect: Partial<FeedbackRecord>): void {
  assert.deepEqual(
    Object.keys(record).sort(),
    ['description', 'deviceGenerationId', 'deviceId', 'enqueuedTimeUtc', 'originalMessageId', 'statusCode'],
    `feedback record fields: ${JSON.stringify(record)}`,
  );
  for (const [k, v] of Object.entries(expect))
    assert.equal(record[k as keyof FeedbackRecord], v, `record.${k} in ${JSON.stringify(record)}`);
  assert.equal(typeof record.deviceGenerationId, 'string');
  assert.ok(record.deviceGenerationId.length > 0, 'deviceGenerationId is set');
  assert.ok(typeof record.description === 'string' && record.description.length > 0, 'description is set');
  assert.match(record.enqueuedTimeUtc, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'enqueuedTimeUtc is ISO 8601 UTC');
  assert.ok(Math.abs(Date.parse(record.enqueuedTimeUtc) - Date.now()) < 10 * 60_000, 'enqueuedTimeUtc is recent');
}

/**
 * Collects exactly the records `expected` describes (matched by originalMessageId), asserts each one, and
 * asserts nothing else is waiting. Meant for hubs with feedback.batchDelayMs 0, where records are at once.
 */
export async function expectFeedback(
  hub: HubProcess,
  expected: Array<Partial<FeedbackRecord> & { originalMessageId: string }>,
  opts: WaitOptions = {},
): Promise<FeedbackRecord[]> {
  const records = await collectFeedback(hub, expected.length, opts);
  assert.equal(records.length, expected.length, `feedback records: ${JSON.stringify(records)}`);
  for (const e of expected) {
    const r = records.find((x) => x.originalMessageId === e.originalMessageId);
    assert.ok(r, `a feedback record for ${e.originalMessageId} in ${JSON.stringify(records)}`);
    assertRecord(r, e);
  }
  assert.equal(await receiveFeedback(hub), undefined, 'no further feedback is waiting');
  return records;
}
