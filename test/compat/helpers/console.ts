/**
 * What the console's browser tests share: one hub process and one headless Chromium per test
 * file, signing in with a policy, and steps that leave a screenshot when they fail.
 */
import { after, before } from 'node:test';
import type { Page } from 'playwright-core';
import { type HubProcess, startHub } from '../harness.js';
import { type HubBrowser, openBrowser } from './browser.js';

/** Generous: two slow cores, a browser and a hub. */
export const WAIT = { timeout: 20_000 };

export interface ConsoleSuite {
  readonly hub: HubProcess;
  readonly b: HubBrowser;
  /** https://<hub address> */
  readonly origin: string;
  /** Signs in with the policy's connection string and waits for the header to name it. */
  signIn(page: Page, policy: string): Promise<void>;
  /** Runs one step; on failure saves `failure-<name>.png` before failing. */
  step<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Runs `fn` after the file's tests, before the browser and the hub go. */
  cleanup(fn: () => Promise<void>): void;
}

/**
 * Registers the file's before/after hooks: a hub and a browser for its tests, then `setup` (a
 * file's own before hook would run alongside this one: Node 20 runs root before hooks at once).
 */
export function consoleSuite(setup?: (suite: ConsoleSuite) => Promise<void>): ConsoleSuite {
  let hub: HubProcess | undefined;
  let b: HubBrowser | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  before(async () => {
    hub = await startHub();
    b = await openBrowser(`https://${hub.address}`);
    await setup?.(suite);
  });
  after(async () => {
    for (const fn of cleanups) await fn();
    await b?.close();
    await hub?.stop();
  });
  const suite: ConsoleSuite = {
    get hub() {
      if (!hub) throw new Error('the hub has not started');
      return hub;
    },
    get b() {
      if (!b) throw new Error('the browser has not started');
      return b;
    },
    get origin() {
      return `https://${suite.hub.address}`;
    },
    async signIn(page, policy) {
      await page.goto(`${suite.origin}/console/`);
      await page.fill('#cs', suite.hub.connectionString(policy));
      await page.click('button[type=submit]');
      await page.waitForSelector(`header .who:text-is("${policy}")`, WAIT);
    },
    async step(name, work) {
      try {
        return await work();
      } catch (err) {
        await b?.screenshot(`failure-${name}`).catch(() => undefined);
        throw err;
      }
    },
    cleanup: (fn) => void cleanups.push(fn),
  };
  return suite;
}
