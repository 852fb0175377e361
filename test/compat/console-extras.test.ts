/**
 * The console's views of what other parts of the hub added (issues 27 and 28), in a real headless
 * Chromium against a real hub process: a message's timeline on the device page (the official MQTT
 * device completes it), the jobs page with azure-iothub's JobClient's jobs (one completes, one
 * scheduled in an hour is cancelled from the page), and the live nodes on the overview.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type common from 'azure-iot-common';
import type { Client } from 'azure-iot-device';
import iothub from 'azure-iothub';
import { consoleSuite, WAIT } from './helpers/console.js';
import { Inbox } from './helpers/inbox.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { waitFor } from './helpers/wait.js';

const T = { timeout: 120_000 };
const DEVICE = 'extra-dev-1';
let device: Client | undefined;
const completed = new Inbox<string>();

const suite = consoleSuite(async ({ hub }) => {
  device = await openDevice(hub, await hub.createDevice(DEVICE), 'Mqtt');
  device.on('message', (m: common.Message) => {
    void device!.complete(m).then(() => completed.push(String(m.messageId)));
  });
});
const { signIn, step } = suite;
suite.cleanup(() => closeDevice(device));

test("a message's timeline: sent from the page, delivered over MQTT and completed", T, async () => {
  const { page } = suite.b;
  await step('history', async () => {
    await signIn(page, 'iothubowner');
    await page.goto(`${suite.origin}/console/#/devices/${DEVICE}`);
    await page.fill('#send-body', 'tell me your story');
    await page.fill('#send-message-id', 'story-1');
    await page.click('#send-message');
    assert.equal(await completed.next(20_000, 'the completed message'), 'story-1');
    await page.getByRole('tab', { name: 'Message history' }).click();
    await page.fill('#history-message-id', 'story-1');
    const copy = page.getByRole('region', { name: /^Sequence number \d+$/ });
    // The MQTT client's complete is a PUBACK it does not wait on: ask again until the hub committed it.
    const steps = await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Show history' }).click();
        await copy.waitFor(WAIT);
        const kinds = await copy.locator('li strong').allTextContents();
        return kinds.includes('completed') ? kinds : undefined;
      },
      { what: 'the completed step', timeoutMs: 20_000, intervalMs: 300 },
    );
    assert.deepEqual(steps, ['enqueued', 'delivered', 'completed']);
    assert.match((await copy.locator('li').nth(1).textContent()) ?? '', /protocol=mqtt/);
    assert.match((await copy.textContent()) ?? '', /\(ended\)/);
    await suite.b.screenshot('19-message-history');

    // A link to a message's history (message ids in the queue, feedback and dead-letter tables) shows it at once.
    await page.goto(`${suite.origin}/console/#/devices/${DEVICE}/history/story-1`);
    await copy.locator('li strong:text-is("completed")').waitFor(WAIT);
    assert.equal(await page.inputValue('#history-message-id'), 'story-1');

    await page.fill('#history-message-id', 'never-sent');
    await page.getByRole('button', { name: 'Show history' }).click();
    await page.waitForSelector('text=No history for never-sent', WAIT);
  });
});

test('the jobs page shows progress, and cancels a job that has not ended', T, async () => {
  const { page } = suite.b;
  await step('jobs', async () => {
    const jobs = iothub.JobClient.fromConnectionString(suite.hub.ownerConnectionString);
    await jobs.scheduleTwinUpdate(
      'tag-now',
      `deviceId = '${DEVICE}'`,
      { etag: '*', tags: { k: 'v' } },
      new Date(),
      120,
    );
    await jobs.scheduleTwinUpdate(
      'tag-later',
      `deviceId = '${DEVICE}'`,
      { etag: '*', tags: {} },
      new Date(Date.now() + 3_600_000),
      120,
    );
    await page.getByRole('link', { name: 'Jobs' }).click();
    const row = (id: string) => page.getByRole('table', { name: 'Jobs' }).getByRole('row', { name: id });
    await row('tag-now').locator('[data-testid=job-status]:text-is("completed")').waitFor(WAIT);
    assert.match((await row('tag-now').textContent()) ?? '', /1 of 1 · 1 succeeded · 0 failed/);
    await row('tag-later').locator('[data-testid=job-status]:text-is("queued")').waitFor(WAIT);
    assert.equal(await row('tag-now').getByRole('button', { name: 'Cancel' }).isDisabled(), true);
    await row('tag-later').getByRole('button', { name: 'Cancel' }).click();
    await page.waitForSelector('[role=status]:has-text("Job tag-later is cancelled")', WAIT);
    await row('tag-later').locator('[data-testid=job-status]:text-is("cancelled")').waitFor(WAIT);
    await suite.b.screenshot('20-jobs');
  });
});

test('the overview lists the live nodes and the devices connected hub-wide', T, async () => {
  const { page } = suite.b;
  await step('nodes', async () => {
    await page.goto(`${suite.origin}/console/#/`);
    const nodes = page.getByRole('table', { name: 'Nodes' });
    await nodes.locator('tbody tr').first().waitFor(WAIT);
    assert.equal(await nodes.locator('tbody tr').count(), 1);
    await page.waitForSelector('[data-testid=connected-devices]:text-is("1")', WAIT);
  });
  assert.deepEqual(suite.b.errors, []);
  assert.deepEqual(suite.b.external, []);
});
