/**
 * Issues 26 and 27 in the web console, in a real headless Chromium against a real hub process:
 * a direct method invoked from a device's page reaches the official device client (MQTT) and its
 * answer is shown; an offline device's 404103 and a silent device's 504101 are shown as IoT Hub
 * gives them. The dead-letter tab lists what the official AMQP device client rejected, with the
 * reason; requeue delivers one to the device again, delete removes one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type common from 'azure-iot-common';
import type { Client } from 'azure-iot-device';
import { consoleSuite, WAIT } from './helpers/console.js';
import { Inbox } from './helpers/inbox.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { send } from './helpers/send.js';

const T = { timeout: 120_000 };
let methods: Client | undefined;
let rejecting: Client | undefined;
/** Messages the AMQP device got, with what it did. */
const received = new Inbox<{ messageId: string; outcome: 'rejected' | 'completed' }>();
let reject = true;

const suite = consoleSuite(async ({ hub }) => {
  await hub.createDevice('meth-offline');
  methods = await openDevice(hub, await hub.createDevice('meth-1'), 'Mqtt');
  methods.onDeviceMethod('reboot', (req, res) => {
    void res.send(200, { rebooted: true, got: req.payload });
  });
  methods.onDeviceMethod('silent', () => undefined);
  rejecting = await openDevice(hub, await hub.createDevice('dl-1'), 'Amqp');
  rejecting.on('message', (m: common.Message) => {
    const outcome = reject ? 'rejected' : 'completed';
    void (reject ? rejecting!.reject(m) : rejecting!.complete(m)).then(() =>
      received.push({ messageId: String(m.messageId), outcome }),
    );
  });
});
const { signIn, step } = suite;
suite.cleanup(async () => {
  await closeDevice(methods);
  await closeDevice(rejecting);
});

async function invoke(device: string, name: string, o: { payload?: string; response?: number; connect?: number }) {
  const { page } = suite.b;
  await page.goto(`${suite.origin}/console/#/devices/${device}/methods`);
  await page.fill('#method-name', name);
  await page.fill('#method-payload', o.payload ?? '{}');
  await page.fill('#method-response-timeout', String(o.response ?? 30));
  await page.fill('#method-connect-timeout', String(o.connect ?? 0));
  await page.getByRole('button', { name: 'Invoke method' }).click();
}

test('a method invoked from the page reaches the device, and its answer is shown', T, async () => {
  const { page } = suite.b;
  await step('method-answer', async () => {
    await signIn(page, 'iothubowner');
    // The connect timeout covers the device's method subscription, which may still be on its way.
    await invoke('meth-1', 'reboot', { payload: '{"delay": 5}', connect: 10 });
    const answer = page.getByRole('region', { name: 'Method answer' });
    await answer.waitFor(WAIT);
    assert.match((await answer.textContent()) ?? '', /reboot answered with status 200/);
    const shown = JSON.parse((await answer.locator('pre').textContent()) ?? '') as unknown;
    assert.deepEqual(shown, { rebooted: true, got: { delay: 5 } });
    await suite.b.screenshot('16-method-answer');
  });
});

test("an offline device's 404103 and a silent device's 504101 are shown as IoT Hub gives them", T, async () => {
  const { page } = suite.b;
  await step('method-errors', async () => {
    await invoke('meth-offline', 'reboot', {});
    await page.waitForSelector('[data-testid=error]:has-text("404 DeviceNotOnline (404103)")', WAIT);
    await invoke('meth-1', 'silent', { response: 5 });
    await page.waitForSelector('[role=status]:has-text("Waiting for the device (up to 5 s)")', WAIT);
    await page.waitForSelector('[data-testid=error]:has-text("504 GatewayTimeout (504101)")', WAIT);
    assert.equal(await page.getByRole('region', { name: 'Method answer' }).count(), 0);
    await suite.b.screenshot('17-method-timeout');
  });
});

test('the dead-letter tab lists rejected messages; requeue delivers one again, delete removes one', T, async () => {
  const { page } = suite.b;
  await step('dead-letters', async () => {
    for (const id of ['dl-msg-1', 'dl-msg-2']) {
      await send(suite.hub, 'dl-1', { messageId: id, body: `body of ${id}` });
      assert.deepEqual(await received.next(20_000, id), { messageId: id, outcome: 'rejected' });
    }
    await page.goto(`${suite.origin}/console/#/devices/dl-1/dead-letters`);
    const table = page.getByRole('table', { name: 'Dead letters' });
    const row = (id: string) => table.getByRole('row', { name: id });
    await row('dl-msg-2').waitFor(WAIT);
    const cells = await row('dl-msg-1').locator('td').allTextContents();
    assert.equal(cells[0], 'Rejected');
    assert.ok(cells.includes('body of dl-msg-1'), JSON.stringify(cells));
    await suite.b.screenshot('18-dead-letters');

    reject = false;
    await row('dl-msg-1').getByRole('button', { name: 'Requeue' }).click();
    await page.waitForSelector('[role=status]:has-text("Requeued dl-msg-1: it is back in the queue")', WAIT);
    assert.deepEqual(await received.next(20_000, 'the requeued message'), {
      messageId: 'dl-msg-1',
      outcome: 'completed',
    });
    assert.equal(await row('dl-msg-1').count(), 0);

    page.once('dialog', (d) => void d.accept());
    await row('dl-msg-2').getByRole('button', { name: 'Delete' }).click();
    await page.waitForSelector('[role=status]:has-text("Deleted the dead letter dl-msg-2")', WAIT);
    await page.waitForSelector('text=No dead letters.', WAIT);
  });
  assert.deepEqual(suite.b.errors, []);
  assert.deepEqual(suite.b.external, []);
});
