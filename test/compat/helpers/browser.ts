/**
 * A real headless Chromium (Debian's `chromium` package, installed by .ci/run) driven by
 * playwright-core, which never downloads a browser. Every request that is not to the hub is
 * refused and recorded, so a test can assert the page needs nothing from anywhere else.
 * Screenshots go to test-output/console/ (gitignored).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../test-output/console/', import.meta.url));
const CHROMIUM = process.env.FERRY_CHROMIUM ?? '/usr/bin/chromium';

export interface HubBrowser {
  readonly page: Page;
  /** Requests to anything but the hub's origin, refused. */
  readonly external: string[];
  /** Uncaught exceptions in the page, and anything the Content-Security-Policy refused. */
  readonly errors: string[];
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function openBrowser(origin: string, viewport = { width: 1280, height: 900 }): Promise<HubBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run \`apt-get install -y chromium\` (or set FERRY_CHROMIUM)`);
  }
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No DNS for anything but loopback: even a request that got past the route below goes nowhere.
    args: ['--no-sandbox', `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE ${new URL(origin).hostname}`],
  });
  // The hub's certificate comes from the test CA, which this Chromium profile does not know.
  const context: BrowserContext = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const external: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin || url.startsWith('data:')) return route.continue();
    external.push(url);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  return {
    page,
    external,
    errors,
    async screenshot(name) {
      await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    },
    close: () => browser.close(),
  };
}
