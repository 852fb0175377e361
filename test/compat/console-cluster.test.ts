/**
 * The console of a hub of two nodes (issue 28), in a real headless Chromium signed in on node B,
 * while the traffic goes through node A (the official service client sends, the official MQTT
 * device completes): the overview lists both nodes, counts the device connected hub-wide, sums
 * node A's sends and says its figures are the nodes' sums; the feedback page shows node A's
 * records live. No request leaves the hub (the console works offline).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type common from 'azure-iot-common';
import type { Client } from 'azure-iot-device';
import { c2dMessage, openService, type Service } from './amqp-helpers.js';
import { type HubProcess, startHub } from './harness.js';
import { type HubBrowser, openBrowser } from './helpers/browser.js';
import { WAIT } from './helpers/console.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { atNode, clusterStore, dropSchema } from './helpers/postgres.js';
import { withTimeout } from './helpers/wait.js';

const T = { timeout: 120_000 };
const store = clusterStore('console');
// Heartbeats every second: node A's totals reach node B's console quickly.
const config = { feedback: { batchDelayMs: 0 }, cluster: { nodeTimeoutMs: 3000 } };
let a: HubProcess;
let b: HubProcess;
let browser: HubBrowser;
let service: Service;
let device: Client | undefined;
let passed = false;

before(async () => {
  [a, b] = await Promise.all([startHub({ store, config }), startHub({ store, config })]);
  browser = await openBrowser(`https://${b.address}`);
  service = await openService(a, 'Amqp');
  device = await openDevice(a, atNode(await a.createDevice('two-nodes'), a.address), 'Mqtt');
  device.on('message', (m: common.Message) => void device!.complete(m).catch(() => undefined));
});

after(async () => {
  await closeDevice(device);
  await service?.close();
  await browser?.close();
  await Promise.all([a?.stop(), b?.stop()]);
  if (passed) await dropSchema(store.schema);
});

test("a console on node B shows both nodes, node A's traffic and node A's feedback", T, async () => {
  const { page } = browser;
  let sending = true;
  let sender: Promise<void> | undefined;
  try {
    await page.goto(`https://${b.address}/console/`);
    await page.fill('#cs', b.connectionString('iothubowner'));
    await page.click('button[type=submit]');
    await page.waitForSelector('header .who:text-is("iothubowner")', WAIT);
    for (const id of ['cl-1', 'cl-2', 'cl-3'])
      await withTimeout(
        service.client.send('two-nodes', c2dMessage(id, { messageId: id, ack: 'full' })),
        20_000,
        'send',
      );
    // Sends through node A all along, so node B's chart has a rate to show.
    sender = (async () => {
      for (let n = 0; sending; n++) {
        await withTimeout(service.client.send('two-nodes', c2dMessage(`bg-${n}`)), 20_000, 'send');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();

    await page.goto(`https://${b.address}/console/#/`);
    const nodes = page.getByRole('table', { name: 'Nodes' });
    await nodes.locator('tbody tr').nth(1).waitFor(WAIT);
    const rows = await nodes.locator('tbody tr').allTextContents();
    assert.equal(rows.length, 2);
    for (const hub of [a, b])
      assert.ok(
        rows.some((r) => r.includes(`${hub.address}:`)),
        `${hub.address} in ${rows}`,
      );
    await page.waitForSelector('[data-testid=connected-devices]:text-is("1")', WAIT);
    await page.waitForSelector('[data-testid=devices-connected]:text-is("1")', WAIT);
    await page.waitForSelector('[data-testid=counters-nodes]:has-text("2 live nodes")', WAIT);
    // Node A's sends, published by its heartbeat, are in node B's chart: a rate above zero.
    await page.waitForSelector('.key.sent:not(:text-is("sends/s 0.0")):not(:text-is("sends/s —"))', WAIT);
    await browser.screenshot('30-two-nodes-overview');
    sending = false;
    await sender;

    await page.goto(`https://${b.address}/console/#/feedback`);
    for (const id of ['cl-1', 'cl-2', 'cl-3'])
      await page.waitForSelector(`[data-testid=feedback] tr:has-text("${id}"):has-text("Success")`, WAIT);
    await browser.screenshot('31-two-nodes-feedback');
    assert.deepEqual(browser.errors, []);
    assert.deepEqual(browser.external, []);
    passed = true;
  } catch (err) {
    await browser.screenshot('failure-two-nodes').catch(() => undefined);
    throw err;
  } finally {
    sending = false;
    await sender?.catch(() => undefined);
  }
});
