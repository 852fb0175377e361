/**
 * Issue 25 in the web console, in a real headless Chromium against a real hub process: a
 * device's twin tab shows what the official device client (MQTT) reports, with when each property
 * changed; tags and desired properties saved from the page reach the device; a save over a change
 * made meanwhile through azure-iothub is refused 412 and says so; the devices page runs queries,
 * pages through their results and shows a malformed query's error at its position.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client, Twin } from 'azure-iot-device';
import iothub from 'azure-iothub';
import { consoleSuite, WAIT } from './helpers/console.js';
import { desiredEnabled, update } from './helpers/device-twin.js';
import { Inbox } from './helpers/inbox.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 120_000 };
const DEVICE = 'twin-dev-1';
let device: Client | undefined;
let twin: Twin;
const desired = new Inbox<Record<string, unknown>>();
const suite = consoleSuite(async ({ hub }) => {
  device = await openDevice(hub, await hub.createDevice(DEVICE), 'Mqtt');
  twin = await withTimeout(device.getTwin(), 15_000, 'getTwin');
  twin.on('properties.desired', (delta: Record<string, unknown>) => desired.push(delta));
  await desiredEnabled(twin);
  await update(twin, { fw: { version: '1.0' }, temp: 20 });
});
const { signIn, step } = suite;
suite.cleanup(() => closeDevice(device));

/** The next desired-properties notification that `accept`s (the client may notify the whole document too). */
async function nextDesired(accept: (d: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (;;) {
    const d = await desired.next(15_000, 'a desired-properties notification');
    if (accept(d)) return d;
  }
}

/** The value cell of a property in one of the twin tab's tables. */
const valueCell = (table: string, path: string) =>
  suite.b.page.getByRole('table', { name: table }).getByRole('row', { name: path }).locator('td').first();

test('the twin tab shows reported properties with when they changed, and the versions', T, async () => {
  const { page } = suite.b;
  await step('twin-reported', async () => {
    await signIn(page, 'iothubowner');
    await page.goto(`${suite.origin}/console/#/devices/${DEVICE}/twin`);
    await valueCell('Reported properties', 'fw.version').filter({ hasText: '"1.0"' }).waitFor(WAIT);
    const row = page.getByRole('table', { name: 'Reported properties' }).getByRole('row', { name: 'temp' });
    const [value, updated] = await row.locator('td').allTextContents();
    assert.equal(value, '20');
    assert.notEqual(updated, '—', 'the $lastUpdated of temp');
    assert.equal(await page.textContent('[data-testid=reported-version]'), '2');
    // A report made while the page is open shows up without a reload.
    await update(twin, { temp: 21 });
    await valueCell('Reported properties', 'temp').filter({ hasText: '21' }).waitFor(WAIT);
    await suite.b.screenshot('13-device-twin');
  });
});

test('tags and desired properties saved from the page reach the twin and the device', T, async () => {
  const { page } = suite.b;
  await step('twin-save', async () => {
    await page.fill('#twin-tags', '{"site": "plant-3"}');
    await page.fill('#twin-desired', '{"rate": 5, "mode": "eco"}');
    await page.getByRole('button', { name: 'Save twin' }).click();
    await page.waitForSelector('text=Saved: the twin is at version', WAIT);
    const delta = await nextDesired((d) => d.rate === 5);
    assert.equal(delta.mode, 'eco');
    const registry = iothub.Registry.fromConnectionString(suite.hub.ownerConnectionString);
    const { responseBody: saved } = await registry.getTwin(DEVICE);
    assert.equal(saved.tags.site, 'plant-3');
    // Removing a property in the text sends null for it.
    await page.fill('#twin-desired', '{"rate": 5}');
    await page.getByRole('button', { name: 'Save twin' }).click();
    await nextDesired((d) => d.mode === null);
    await valueCell('Desired properties', 'rate').waitFor(WAIT);
    assert.equal(
      await page.getByRole('table', { name: 'Desired properties' }).getByRole('row', { name: 'mode' }).count(),
      0,
    );
  });
});

test('a save over a change made meanwhile is refused 412, says so, and works from the current twin', T, async () => {
  const { page } = suite.b;
  await step('twin-conflict', async () => {
    const registry = iothub.Registry.fromConnectionString(suite.hub.ownerConnectionString);
    await registry.updateTwin(DEVICE, { properties: { desired: { rate: 7 } } }, '*');
    await page.fill('#twin-desired', '{"rate": 6}');
    await page.getByRole('button', { name: 'Save twin' }).click();
    await page.waitForSelector('[data-testid=error]:has-text("412 PreconditionFailed (412001)")', WAIT);
    await page.waitForSelector('[data-testid=twin-conflict]', WAIT);
    await suite.b.screenshot('14-twin-conflict');
    const { responseBody: kept } = await registry.getTwin(DEVICE);
    assert.equal(kept.properties.desired.rate, 7, 'the refused save changed nothing');
    await page.getByRole('button', { name: 'Start again from the current twin' }).click();
    await page.waitForFunction(
      () =>
        (globalThis.document.querySelector('#twin-desired') as { value: string } | null)?.value.includes('"rate": 7'),
      undefined,
      WAIT,
    );
    await page.fill('#twin-desired', '{"rate": 6}');
    await page.getByRole('button', { name: 'Save twin' }).click();
    await page.waitForSelector('text=Saved: the twin is at version', WAIT);
    const { responseBody: after } = await registry.getTwin(DEVICE);
    assert.equal(after.properties.desired.rate, 6);
  });
});

test('the devices page runs queries, pages through results, and shows where a query is wrong', T, async () => {
  const { page } = suite.b;
  await step('query', async () => {
    for (let i = 0; i < 23; i++) await suite.hub.createDevice(`q-${String(i).padStart(2, '0')}`);
    await page.goto(`${suite.origin}/console/#/devices`);
    const results = page.getByRole('table', { name: 'Query results' });
    await page.fill('#query-text', "SELECT * FROM devices WHERE tags.site = 'plant-3'");
    await page.getByRole('button', { name: 'Run query' }).click();
    await results.getByRole('link', { name: DEVICE }).waitFor(WAIT);
    assert.equal(await results.locator('tbody tr').count(), 1);

    await page.fill('#query-text', 'SELECT deviceId FROM devices');
    await page.getByRole('button', { name: 'Run query' }).click();
    await results.locator('tbody tr').nth(19).waitFor(WAIT);
    assert.equal(await results.locator('tbody tr').count(), 20);
    await page.getByRole('button', { name: 'Next results' }).click();
    await results.locator('td', { hasText: DEVICE }).waitFor(WAIT);
    assert.deepEqual(await results.locator('tbody td').allTextContents(), ['q-20', 'q-21', 'q-22', DEVICE]);
    assert.equal(await page.isDisabled('button:text-is("Next results")'), true);
    await page.getByRole('button', { name: 'Previous results' }).click();
    await results.locator('td', { hasText: 'q-00' }).waitFor(WAIT);

    await page.fill('#query-text', 'SELECT * FROM devices WHERE');
    await page.getByRole('button', { name: 'Run query' }).click();
    await page.waitForSelector('[data-testid=error]:has-text("400 ArgumentInvalid (400004)")', WAIT);
    const caret = await page.textContent('[data-testid=query-caret]');
    // Position 28: the end of the 27 characters, where a condition was expected.
    assert.match(caret ?? '', /SELECT \* FROM devices WHERE\n {27}\^/);
    assert.match(caret ?? '', /line 1, position 28/);
    await suite.b.screenshot('15-query-error');
  });
  assert.deepEqual(suite.b.errors, []);
  assert.deepEqual(suite.b.external, []);
});
