/** StepTexts (history-steps.ts) writes exactly what stepText writes, whatever it kept from before. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StepDetail } from '../src/store/history-rows.js';
import { StepTexts, stepText } from '../src/store/sqlite/history-steps.js';
import type { HistoryEventKind } from '../src/store/types.js';

const TOKEN = '0e0b7f64-1c2d-0abc-8def-00000000002a';
const feedback = { deviceId: 'd1', messageId: 'm1', status: 'Success', enqueuedTimeUtc: 1, generationId: 'g' };
const details: Array<StepDetail | undefined> = [
  undefined,
  {},
  { via: 'service' },
  { via: 'other policy', jobId: undefined },
  { lockToken: TOKEN },
  { lockToken: TOKEN, via: 'mqtt' },
  { lockToken: TOKEN, via: 'amqp' },
  { jobId: 'job-1', via: 'service' },
  { requeuedFrom: 7 },
  { requeuedAs: 9 },
  { feedback: feedback as unknown as StepDetail['feedback'] },
];
const kinds: HistoryEventKind[] = ['enqueued', 'delivered', 'completed', 'abandoned'];

test('StepTexts gives stepText for every kind, count, time and detail, in any order', () => {
  const texts = new StepTexts();
  let checked = 0;
  // Several passes over the same cases in different orders: every cache is hit and missed.
  for (const now of [1_765_000_000_000, 1_765_000_000_000, 1_765_000_000_001, 5]) {
    for (let pass = 0; pass < 2; pass++) {
      for (const kind of pass === 0 ? kinds : [...kinds].reverse()) {
        for (const count of [0, 0, 3]) {
          for (const d of pass === 0 ? details : [...details].reverse()) {
            assert.equal(texts.text(kind, now, count, d), stepText(kind, String(now), count, d));
            checked++;
          }
        }
      }
      assert.equal(texts.completedOpen(now), `,["completed",${now},`);
    }
  }
  assert.ok(checked > 1000);
});
