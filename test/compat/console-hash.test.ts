/**
 * Issue 23: the console survives any hash. A link with malformed percent-encoding
 * (`#/devices/bad%zz`) left the page blank, and it stayed blank when navigating elsewhere in that
 * tab. Every hash the console has no page for now shows "Not found" with the ways back, whether
 * the page is loaded with it or navigated to it, and the tab goes on working afterwards. Real
 * headless Chromium against a real hub.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type HubProcess, startHub } from './harness.js';
import { type HubBrowser, openBrowser } from './helpers/browser.js';

const WAIT = { timeout: 20_000 };
const T = { timeout: 120_000 };
const BAD_HASHES = ['#/devices/bad%zz', '#/devices/%', '#/nowhere', '#/devices/a/b', '#%E0%A4%A'];

let hub: HubProcess;
let b: HubBrowser;
let origin: string;

before(async () => {
  hub = await startHub();
  origin = `https://${hub.address}`;
  b = await openBrowser(origin);
  const { page } = b;
  await page.goto(`${origin}/console/`);
  await page.fill('#cs', hub.connectionString('iothubowner'));
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=devices-total]', WAIT);
});

after(async () => {
  await b?.close();
  await hub?.stop();
});

/** The not-found page is shown, naming the hash. */
async function expectNotFound(hash: string): Promise<void> {
  const { page } = b;
  await page.waitForSelector('[data-testid=not-found] h1:text-is("Not found")', WAIT);
  assert.equal(await page.textContent('[data-testid=not-found] code'), hash);
}

test('a bad hash typed in the tab shows Not found; the way back and the navigation work', T, async () => {
  const { page } = b;
  for (const hash of BAD_HASHES) {
    // Same document: only the hash changes (hashchange).
    await page.evaluate((h) => {
      location.hash = h;
    }, hash);
    await expectNotFound(hash);
    await page.click('[data-testid=not-found] a:text-is("Back to the overview")');
    await page.waitForSelector('[data-testid=devices-total]', WAIT);
  }
  await page.evaluate(() => {
    location.hash = '#/devices/bad%zz';
  });
  await expectNotFound('#/devices/bad%zz');
  await page.click('nav a:text-is("Devices")');
  await page.waitForSelector('#new-id', WAIT);
  await b.screenshot('not-found-then-devices');
  assert.deepEqual(b.errors, []);
});

test('a page loaded with a bad hash shows Not found, and the tab goes on working', T, async () => {
  const { page } = b;
  for (const hash of BAD_HASHES) {
    await page.goto('about:blank');
    await page.goto(`${origin}/console/${hash}`);
    await expectNotFound(hash);
  }
  await b.screenshot('not-found');
  await page.click('nav a:text-is("Feedback")');
  await page.waitForSelector('h1:text-is("Feedback")', WAIT);
  await page.click('nav a:text-is("Overview")');
  await page.waitForSelector('[data-testid=devices-total]', WAIT);
  assert.deepEqual(b.errors, []);
});
