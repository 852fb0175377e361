/**
 * The web console in a real headless Chromium against a real hub process: sign in, create a
 * device, send it a message that the official MQTT device client receives and completes, watch
 * the Success feedback arrive on the device and feedback pages, peek and purge the queue, and see
 * what the `service` policy may not do. Screenshots of each page land in test-output/console/.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consoleSuite, WAIT } from './helpers/console.js';
import { openMqttDevice, propertiesOf } from './mqtt-helpers.js';

const DEVICE = 'console-dev-1';

const suite = consoleSuite();
const { signIn, step } = suite;

test('the owner creates a device, sends it a message, sees its feedback, peeks and purges its queue', async () => {
  const { page } = suite.b;
  await step('sign-in', async () => {
    await page.goto(`${suite.origin}/console/`);
    await suite.b.screenshot('01-sign-in');
    await signIn(page, 'iothubowner');
    await page.waitForSelector('[data-testid=devices-total]', WAIT);
    await suite.b.screenshot('02-overview');
  });

  await step('create-device', async () => {
    await page.click('nav a:text-is("Devices")');
    await page.fill('#new-id', DEVICE);
    await page.click('#create-device');
    await page.waitForSelector(`tr[data-device="${DEVICE}"]`, WAIT);
    await suite.b.screenshot('03-devices');
  });

  // The official device client connects with the connection string the device page reveals.
  const cs = await step('device-page', async () => {
    await page.click(`a:text-is("${DEVICE}")`);
    const secret = page.locator('.secret', { has: page.locator('code[title="Device connection string"]') });
    assert.match((await secret.locator('code').textContent()) ?? '', /SharedAccessKey=•+$/);
    await secret.locator('button:text-is("Show")').click();
    return (await secret.locator('code').textContent()) ?? '';
  });
  assert.match(
    cs,
    new RegExp(`^HostName=${suite.hub.address.replaceAll('.', '\\.')};DeviceId=${DEVICE};SharedAccessKey=`),
  );
  const device = await openMqttDevice(suite.hub, cs);
  try {
    await step('send', async () => {
      await page.fill('#send-body', 'hello from the console');
      await page.fill('#send-message-id', 'console-msg-1');
      await page.selectOption('#send-ack', 'full');
      for (const [i, [name, value]] of [
        ['color', 'blue'],
        ['priority', 'high'],
      ].entries()) {
        await page.click('button:text-is("Add property")');
        await page.fill(`[aria-label="Property ${i + 1} name"]`, name!);
        await page.fill(`[aria-label="Property ${i + 1} value"]`, value!);
      }
      await page.click('#send-message');
    });
    const m = await device.next(20_000);
    assert.equal(m.messageId, 'console-msg-1');
    assert.equal(m.data.toString(), 'hello from the console');
    const props = propertiesOf(m);
    assert.equal(props.color, 'blue');
    assert.equal(props.priority, 'high');

    await step('device-feedback', async () => {
      await page.waitForSelector('[data-testid=feedback] tr:has-text("console-msg-1"):has-text("Success")', WAIT);
      await suite.b.screenshot('04-device-feedback');
    });
  } finally {
    await device.close();
  }

  await step('overview-live', async () => {
    await page.click('nav a:text-is("Overview")');
    // The live chart has lines once two samples came in; the send above is in its last minute.
    await page.waitForSelector('.chart polyline.sent', WAIT);
    await page.waitForSelector('.chart polyline.completed', WAIT);
    assert.equal(await page.textContent('[data-testid=devices-total]'), '1');
    await suite.b.screenshot('02b-overview-live');
  });

  await step('feedback-page', async () => {
    await page.click('nav a:text-is("Feedback")');
    await page.waitForSelector('[data-testid=feedback] tr:has-text("console-msg-1"):has-text("Success")', WAIT);
    await suite.b.screenshot('05-feedback');
  });

  await step('pending-and-purge', async () => {
    await page.goto(`${suite.origin}/console/#/devices/${DEVICE}`);
    await page.waitForSelector('#send-message', WAIT);
    await page.fill('#send-body', 'nobody is listening');
    await page.fill('#send-message-id', 'console-msg-2');
    await page.click('#send-message');
    await page.waitForSelector('[data-testid=pending] tr:has-text("console-msg-2"):has-text("Enqueued")', WAIT);
    await suite.b.screenshot('06-device-pending');
    // Purge asks first (issue 30).
    page.once('dialog', (d) => void d.accept());
    await page.click('#purge');
    await page.waitForSelector('text=Purged 1 message', WAIT);
    await page.waitForSelector('text=The queue is empty.', WAIT);
  });

  // The figures the hub keeps in memory (issue 32): group-commit latency, pending feedback.
  await step('overview-latency', async () => {
    await page.click('nav a:text-is("Overview")');
    await page.waitForSelector('[data-testid=latency-commit]:has-text(" ms / ")', WAIT);
    assert.match((await page.textContent('[data-testid=feedback-pending]')) ?? '', /^\d+$/);
    await suite.b.screenshot('02c-overview-latency');
  });
  assert.deepEqual(suite.b.errors, []);
});

test('the owner manages devices: given keys, enable/disable, new keys, delete, search and pages', async () => {
  const { page } = suite.b;
  const primary = Buffer.alloc(32, 3).toString('base64');
  const secondary = Buffer.alloc(32, 4).toString('base64');
  const row = (id: string) => page.locator(`tr[data-device="${id}"]`);
  const shownKey = async (id: string) => {
    await page.goto(`${suite.origin}/console/#/devices/${id}`);
    const secret = page.locator('.secret', { has: page.locator('code[title="Device connection string"]') });
    await secret.locator('button:text-is("Show")').click();
    return /SharedAccessKey=(.*)$/.exec((await secret.locator('code').textContent()) ?? '')?.[1];
  };
  await step('given-keys', async () => {
    await page.goto(`${suite.origin}/console/#/devices`);
    await page.fill('#new-id', 'console-dev-2');
    await page.uncheck('text=Generate keys');
    await page.fill('#new-primary', primary);
    await page.fill('#new-secondary', secondary);
    await page.click('#create-device');
    await row('console-dev-2').waitFor(WAIT);
    assert.equal(await shownKey('console-dev-2'), primary);
  });
  await step('disable-enable-keys-delete', async () => {
    await page.goto(`${suite.origin}/console/#/devices`);
    await row('console-dev-2').locator('button:text-is("Disable")').click();
    await row('console-dev-2').locator('.pill:text-is("disabled")').waitFor(WAIT);
    await row('console-dev-2').locator('button:text-is("Enable")').click();
    await row('console-dev-2').locator('.pill:text-is("enabled")').waitFor(WAIT);
    await row('console-dev-2').locator('button:text-is("New keys")').click();
    await page.waitForSelector('text=New keys for console-dev-2', WAIT);
    const renewed = await shownKey('console-dev-2');
    assert.ok(renewed && renewed !== primary && Buffer.from(renewed, 'base64').length === 32, renewed);
    await page.goto(`${suite.origin}/console/#/devices`);
    page.once('dialog', (d) => void d.accept());
    await row('console-dev-2').locator('button:text-is("Delete")').click();
    await page.waitForSelector('text=Deleted console-dev-2', WAIT);
    assert.equal(await row('console-dev-2').count(), 0);
  });
  await step('search-and-pages', async () => {
    for (let i = 0; i < 23; i++) await suite.hub.createDevice(`bulk-${String(i).padStart(2, '0')}`);
    await page.fill('#search', 'BULK-');
    await page.click('button:text-is("Search")');
    await row('bulk-19').waitFor(WAIT);
    assert.equal(await page.locator('tr[data-device]').count(), 20);
    assert.equal(await row('console-dev-1').count(), 0);
    await page.click('button:text-is("Next page")');
    await row('bulk-22').waitFor(WAIT);
    assert.deepEqual(await page.locator('tr[data-device] th').allTextContents(), ['bulk-20', 'bulk-21', 'bulk-22']);
    assert.equal(await page.isDisabled('button:text-is("Next page")'), true);
    await page.click('button:text-is("Previous page")');
    await row('bulk-00').waitFor(WAIT);
  });
  assert.deepEqual(suite.b.errors, []);
});

test('the service policy cannot create devices: the control is disabled, and a forced try shows the 401', async () => {
  const { page } = suite.b;
  await step('service', async () => {
    await page.click('button:text-is("Sign out")');
    await signIn(page, 'service');
    await page.click('nav a:text-is("Devices")');
    assert.equal(await page.isDisabled('#create-device'), true);
    // Force it: enable the button and submit, as a user editing the page could.
    await page.fill('#new-id', 'not-allowed');
    await page
      .locator('#create-device')
      .evaluate((button: { removeAttribute(name: string): void }) => button.removeAttribute('disabled'));
    await page.click('#create-device');
    const error = await page.waitForSelector('[data-testid=error]', WAIT);
    assert.match((await error.textContent()) ?? '', /401 IotHubUnauthorizedAccess/);
    await suite.b.screenshot('07-service-refused');
  });
  assert.deepEqual(suite.b.errors, []);
});

test('at phone width, in the dark theme, signed in with the keyboard only', async () => {
  const { page } = suite.b;
  await step('phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('button:text-is("Sign out")');
    await page.waitForSelector('#cs');
    // Sign-in page: the theme button, then the text area, then the Sign in button.
    const focused = () => page.evaluate(() => globalThis.document.activeElement?.id ?? '');
    for (let i = 0; i < 5 && (await focused()) !== 'cs'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'cs');
    await page.keyboard.insertText(suite.hub.connectionString('iothubowner'));
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForSelector('header .who:text-is("iothubowner")', WAIT);
    // system -> light -> dark
    for (let i = 0; i < 3 && (await page.textContent('button:has-text("Theme:")')) !== 'Theme: dark'; i++) {
      await page.click('button:has-text("Theme:")');
    }
    // The theme is on the page once the button says so (the console applies it before painting).
    const [theme, background] = await page.evaluate(() => [
      globalThis.document.documentElement.getAttribute('data-theme'),
      getComputedStyle(globalThis.document.body).backgroundColor,
    ]);
    assert.deepEqual([theme, background], ['dark', 'rgb(15, 19, 24)']);
    const tabs = ['history', 'telemetry', 'twin', 'methods', 'dead-letters'].map((t) => `#/devices/${DEVICE}/${t}`);
    for (const hash of ['#/', '#/devices', `#/devices/${DEVICE}`, ...tabs, '#/telemetry', '#/feedback', '#/jobs']) {
      await page.goto(`${suite.origin}/console/${hash}`);
      await page.waitForSelector('main h1', WAIT);
      const [scroll, inner] = await page.evaluate(() => [
        globalThis.document.documentElement.scrollWidth,
        globalThis.innerWidth,
      ]);
      assert.ok(scroll <= inner, `${hash} is ${scroll}px wide in a ${inner}px window`);
    }
    // Signed in anew, the device page still shows the feedback made before (the hub's recent records).
    await page.goto(`${suite.origin}/console/#/devices/${DEVICE}`);
    await page.waitForSelector('[data-testid=feedback] tr:has-text("console-msg-1")', WAIT);
    await suite.b.screenshot('08-phone-dark-device');
  });
  assert.deepEqual(suite.b.errors, []);
});

test('issue 30: the pending list shows every field; purge asks and can be called off', async () => {
  const { page } = suite.b;
  await step('pending-fields', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${suite.origin}/console/#/devices/${DEVICE}`);
    await page.waitForSelector('#send-message', WAIT);
    await page.fill('#send-body', '{"cmd":"stay"}');
    await page.fill('#send-content-type', 'application/json');
    await page.fill('#send-message-id', 'console-msg-3');
    await page.fill('#send-correlation-id', 'corr-3');
    await page.selectOption('#send-ack', 'negative');
    await page.click('button:text-is("Add property")');
    await page.fill('[aria-label="Property 1 name"]', 'zone');
    await page.fill('[aria-label="Property 1 value"]', 'north');
    await page.click('#send-message');
    const row = page.locator('[data-testid=pending] tr', { hasText: 'console-msg-3' });
    await row.waitFor(WAIT);
    const cells = await row.locator('td').allTextContents();
    for (const shown of ['corr-3', 'application/json', 'negative', 'zone=north', 'Enqueued']) {
      assert.ok(cells.includes(shown), `${shown} in ${JSON.stringify(cells)}`);
    }
    const headers = await page.locator('[data-testid=pending] th').allTextContents();
    for (const h of ['Correlation id', 'Content type', 'Ack', 'Properties']) assert.ok(headers.includes(h), h);
  });
  await step('purge-called-off', async () => {
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await page.click('#purge');
    assert.match(asked, new RegExp(`^Purge the message shown queued for ${DEVICE}, locked ones included\\?`));
    // Nothing happened: the message is still pending after the next refresh, and no notice came.
    await page.click('button:text-is("Refresh")');
    await page.locator('[data-testid=pending] tr', { hasText: 'console-msg-3' }).waitFor(WAIT);
    assert.equal(await page.locator('text=Purged').count(), 0);
    page.once('dialog', (d) => void d.accept());
    await page.click('#purge');
    await page.waitForSelector('text=Purged 1 message', WAIT);
  });
  assert.deepEqual(suite.b.errors, []);
});

test('issue 30: an old error goes once a later load or change works, and a new error takes the old notice away', async () => {
  const { page } = suite.b;
  await step('load-error-cleared', async () => {
    await page.goto(`${suite.origin}/console/#/devices/${DEVICE}`);
    await page.waitForSelector('#send-message', WAIT);
    // One reload of the queue fails as a busy hub's would; the next works.
    let failed = 0;
    await page.route('**/messages/deviceBound/pending**', async (route) => {
      if (failed++ === 0) {
        await route.fulfill({
          status: 503,
          headers: { 'iothub-errorcode': 'ServerBusy', 'content-type': 'application/json' },
          body: JSON.stringify({ Message: 'ErrorCode:ServerBusy;the store is busy' }),
        });
      } else await route.continue();
    });
    await page.click('button:text-is("Refresh")');
    await page.waitForSelector('[data-testid=error]:has-text("503 ServerBusy")', WAIT);
    // The page reloads the queue every 2 s by itself: the banner goes with the first reload that works.
    await page.waitForSelector('[data-testid=error]', { state: 'detached', ...WAIT });
    await page.unroute('**/messages/deviceBound/pending**');
  });
  await step('notice-then-error', async () => {
    await page.fill('#send-body', 'small');
    await page.fill('#send-message-id', 'console-msg-4');
    await page.click('#send-message');
    await page.waitForSelector('text=Sent message console-msg-4', WAIT);
    await page.fill('#send-body', 'x'.repeat(70_000));
    await page.click('#send-message');
    await page.waitForSelector('[data-testid=error]:has-text("413 MessageTooLarge")', WAIT);
    assert.equal(await page.locator('text=Sent message console-msg-4').count(), 0);
    await page.fill('#send-body', 'small again');
    await page.fill('#send-message-id', 'console-msg-5');
    await page.click('#send-message');
    await page.waitForSelector('text=Sent message console-msg-5', WAIT);
    assert.equal(await page.locator('[data-testid=error]').count(), 0);
    page.once('dialog', (d) => void d.accept());
    await page.click('#purge');
    await page.waitForSelector('text=Purged 2 messages', WAIT);
  });
  assert.deepEqual(suite.b.errors, []);
});

test("issue 30: an unknown device's page says so and offers no send, queue or purge", async () => {
  const { page } = suite.b;
  await step('unknown-device', async () => {
    await page.goto(`${suite.origin}/console/#/devices/nobody-here`);
    await page.waitForSelector('[data-testid=unknown-device]', WAIT);
    assert.match((await page.textContent('[data-testid=unknown-device]')) ?? '', /The hub has no device nobody-here/);
    assert.equal(await page.locator('#send-message').count(), 0);
    assert.equal(await page.locator('#purge').count(), 0);
    assert.equal(await page.locator('[data-testid=error]').count(), 0);
    await suite.b.screenshot('09-unknown-device');
  });
  assert.deepEqual(suite.b.errors, []);
});

test('issue 30: signed in with registryRead, the overview shows the device count, and says what needs ServiceConnect', async () => {
  const { page } = suite.b;
  await step('registry-read', async () => {
    await page.click('button:text-is("Sign out")');
    await signIn(page, 'registryRead');
    const total = await page.waitForSelector('[data-testid=devices-total]', WAIT);
    assert.match((await total.textContent()) ?? '', /^\d+$/);
    await page.waitForSelector('[data-testid=no-live]', WAIT);
    assert.equal(await page.locator('main :text-is("…")').count(), 0, 'nothing waits for ever');
    await suite.b.screenshot('10-registry-read-overview');
  });
  assert.deepEqual(suite.b.errors, []);
});

test('the page asked nothing of any host but the hub', () => {
  assert.deepEqual(suite.b.external, []);
});
