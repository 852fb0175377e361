/**
 * Issue 24 in the web console: live telemetry on a device's page and hub-wide, and the telemetry
 * figures on the overview, in a real headless Chromium against a real hub process, with the
 * official device SDK (MQTT and AMQP) sending. The page reads GET /events/telemetry (a Ferry
 * extension); watching takes nothing from the built-in endpoint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from 'azure-iot-device';
import { consoleSuite, WAIT } from './helpers/console.js';
import { closeDevice } from './helpers/official-device.js';
import { openDevice, telemetry } from './helpers/telemetry.js';

const T = { timeout: 120_000 };
let watched: Client | undefined;
let other: Client | undefined;
const suite = consoleSuite(async ({ hub }) => {
  watched = await openDevice(hub, await hub.createDevice('tele-1'), 'Mqtt');
  other = await openDevice(hub, await hub.createDevice('tele-2'), 'Amqp');
});
const { signIn, step } = suite;
suite.cleanup(async () => {
  await closeDevice(watched);
  await closeDevice(other);
});

/** The live table's row that names this message id. */
const row = (table: string, messageId: string) =>
  suite.b.page.getByRole('table', { name: table }).locator('tr', { hasText: messageId });

async function watching(): Promise<void> {
  await suite.b.page.waitForSelector('[data-testid=telemetry-state]:has-text("Watching")', WAIT);
}

test("a device's telemetry tab shows its own messages live, with properties and body", T, async () => {
  const { page } = suite.b;
  await step('device-telemetry', async () => {
    await signIn(page, 'iothubowner');
    await page.goto(`${suite.origin}/console/#/devices/tele-1/telemetry`);
    assert.equal(await page.getByRole('tab', { name: 'Telemetry' }).getAttribute('aria-selected'), 'true');
    await watching();
    await watched!.sendEvent(
      telemetry('{"temperature":21.5}', {
        messageId: 'tele-msg-1',
        contentType: 'application/json',
        properties: { unit: 'celsius' },
      }),
    );
    await other!.sendEvent(telemetry('not for this page', { messageId: 'other-msg-1' }));
    await watched!.sendEvent(telemetry('second', { messageId: 'tele-msg-2' }));
    const first = row('Live telemetry of tele-1', 'tele-msg-1');
    await row('Live telemetry of tele-1', 'tele-msg-2').waitFor(WAIT);
    const cells = await first.locator('td').allTextContents();
    for (const shown of ['application/json', 'unit=celsius', '{"temperature":21.5}']) {
      assert.ok(cells.includes(shown), `${shown} in ${JSON.stringify(cells)}`);
    }
    // Newest first; the other device's message, sent between the two, is not on this page.
    const ids = await page
      .getByRole('table', { name: 'Live telemetry of tele-1' })
      .locator('tbody code')
      .allTextContents();
    assert.deepEqual(ids, ['tele-msg-2', 'tele-msg-1']);
    await page.waitForSelector('[data-testid=telemetry-state]:has-text("2 received")', WAIT);
    await suite.b.screenshot('11-device-telemetry');
  });
});

test('paused, the view shows nothing sent meanwhile; resumed, it shows what comes next', T, async () => {
  const { page } = suite.b;
  await step('pause-resume', async () => {
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.waitForSelector('[data-testid=telemetry-state]:has-text("Paused")', WAIT);
    await watched!.sendEvent(telemetry('while paused', { messageId: 'tele-msg-paused' }));
    await page.getByRole('button', { name: 'Resume' }).click();
    await watching();
    await watched!.sendEvent(telemetry('after', { messageId: 'tele-msg-3' }));
    await row('Live telemetry of tele-1', 'tele-msg-3').waitFor(WAIT);
    assert.equal(await row('Live telemetry of tele-1', 'tele-msg-paused').count(), 0);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForSelector('text=No telemetry since this view opened.', WAIT);
  });
});

test('the Telemetry page shows every device; the overview counts what the hub received', T, async () => {
  const { page } = suite.b;
  await step('hub-telemetry', async () => {
    await page.getByRole('link', { name: 'Telemetry', exact: true }).first().click();
    await page.waitForSelector('main h1:text-is("Telemetry")', WAIT);
    await watching();
    await watched!.sendEvent(telemetry('a', { messageId: 'hub-msg-1' }));
    await other!.sendEvent(telemetry('b', { messageId: 'hub-msg-2' }));
    for (const [id, device] of [
      ['hub-msg-1', 'tele-1'],
      ['hub-msg-2', 'tele-2'],
    ] as const) {
      const r = row('Live telemetry', id);
      await r.waitFor(WAIT);
      assert.equal(await r.getByRole('link', { name: device }).count(), 1);
    }
    await suite.b.screenshot('12-hub-telemetry');
  });
  await step('overview-telemetry', async () => {
    await page.goto(`${suite.origin}/console/#/`);
    // Seven messages were sent in this file: the paused one counts too.
    await page.waitForSelector('[data-testid=telemetry-total]:text-is("7")', WAIT);
    assert.match((await page.textContent('[data-testid=telemetry-rate]')) ?? '', /^\d+\.\d$/);
  });
  assert.deepEqual(suite.b.errors, []);
  assert.deepEqual(suite.b.external, []);
});
