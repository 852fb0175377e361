import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FeedbackRecord } from '@ferry/common';
import { API, type HttpHarness, type HttpResponse, startHttpHarness } from './http-harness.js';

let h: HttpHarness;
before(async () => {
  h = await startHttpHarness({ c2d: { lockTimeoutMs: 60_000, maxDeliveryCount: 3 } });
});
after(async () => {
  await h.close();
});

async function send(deviceId: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await h.request('POST', `/devices/${encodeURIComponent(deviceId)}/messages/deviceBound?${API}`, {
    headers: { authorization: h.serviceToken('service'), ...headers },
    body,
  });
  assert.equal(res.status, 204, res.body.toString());
  return res.headers['iothub-messageid'] as string;
}

async function receive(deviceId: string, segment = 'devicebound', auth?: string): Promise<HttpResponse> {
  return h.request('GET', `/devices/${encodeURIComponent(deviceId)}/messages/${segment}?${API}`, {
    headers: {
      authorization: auth ?? (await h.deviceToken(deviceId)),
      'iothub-to': `/devices/${deviceId}/messages/devicebound`,
    },
  });
}

/** The SDK's way: strip the first and last characters of the ETag. */
function lockOf(res: HttpResponse): string {
  const etag = res.headers.etag as string;
  assert.ok(etag.startsWith('"') && etag.endsWith('"'), `quoted ETag expected, got ${etag}`);
  return etag.substring(1, etag.length - 1);
}

async function settle(
  deviceId: string,
  action: 'complete' | 'reject' | 'abandon',
  lock: string,
  query = '',
): Promise<HttpResponse> {
  const base = `/devices/${encodeURIComponent(deviceId)}/messages/devicebound/${lock}`;
  const headers = { authorization: await h.deviceToken(deviceId), 'if-match': lock };
  if (action === 'abandon') return h.request('POST', `${base}/abandon?${API}`, { headers, body: '' });
  return h.request('DELETE', `${base}?${API}${action === 'reject' ? query || '&reject' : ''}`, { headers });
}

/** Every feedback record waiting, completing each batch (batchDelayMs 0 makes one batch per record). */
async function feedback(): Promise<FeedbackRecord[]> {
  const auth = { authorization: h.serviceToken('service') };
  const records: FeedbackRecord[] = [];
  for (;;) {
    const res = await h.request('GET', `/messages/serviceBound/feedback?${API}`, { headers: auth });
    if (res.status === 204) return records;
    assert.equal(res.status, 200);
    const done = await h.request('DELETE', `/messages/serviceBound/feedback/${lockOf(res)}?${API}`, { headers: auth });
    assert.equal(done.status, 204);
    records.push(...(res.json() as FeedbackRecord[]));
  }
}

async function depth(deviceId: string): Promise<number> {
  return h.engine.queueDepth(deviceId);
}

describe('device C2D over HTTP', () => {
  test('receive returns the message with every header, then 204 while it is locked', async () => {
    await h.createDevice('d1');
    const expiry = new Date(h.clock.now() + 600_000).toISOString();
    await send('d1', 'hello', {
      'iothub-messageid': 'mid-1',
      'iothub-correlationid': 'corr-1',
      'iothub-userid': 'backend',
      'iothub-ack': 'full',
      'iothub-expiry': expiry,
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
      'iothub-app-myprop': 'v1',
      'iothub-app-other': 'two words',
    });
    const res = await receive('d1');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello');
    assert.match(lockOf(res), /^[0-9a-f-]{36}$/);
    assert.equal(res.headers['iothub-messageid'], 'mid-1');
    assert.equal(res.headers['iothub-correlationid'], 'corr-1');
    assert.equal(res.headers['iothub-userid'], 'backend');
    assert.equal(res.headers['iothub-to'], '/devices/d1/messages/devicebound');
    assert.equal(res.headers['iothub-sequencenumber'], '1');
    assert.equal(res.headers['iothub-enqueuedtime'], new Date(h.clock.now()).toISOString());
    assert.equal(res.headers['iothub-expiry'], expiry);
    assert.equal(res.headers['iothub-deliverycount'], '0');
    assert.equal(res.headers['iothub-ack'], 'full');
    assert.equal(res.headers.contenttype, 'application/json');
    assert.equal(res.headers.contentencoding, 'utf-8');
    assert.equal(res.headers['iothub-app-myprop'], 'v1');
    assert.equal(res.headers['iothub-app-other'], 'two words');
    assert.equal((await receive('d1')).status, 204);
    assert.equal((await settle('d1', 'complete', lockOf(res))).status, 204);
    assert.equal(await depth('d1'), 0);
    const records = await feedback();
    assert.equal(records.length, 1);
    assert.equal(records[0]?.originalMessageId, 'mid-1');
    assert.equal(records[0]?.statusCode, 'Success');
    assert.equal(records[0]?.deviceId, 'd1');
  });

  test('what the sender did not set is omitted (no default ack, expiry, content type or id); an empty queue answers 204 with no body', async () => {
    await h.createDevice('d2');
    assert.equal((await receive('d2')).status, 204);
    await send('d2', 'bare');
    const res = await receive('d2');
    assert.equal(res.status, 200);
    for (const name of [
      'iothub-messageid',
      'iothub-correlationid',
      'iothub-userid',
      'iothub-ack',
      'iothub-expiry',
      'content-type',
      'contenttype',
      'contentencoding',
    ]) {
      assert.equal(res.headers[name], undefined, name);
    }
    // What the hub itself sets is always there.
    assert.equal(res.headers['iothub-to'], '/devices/d2/messages/devicebound');
    assert.match(String(res.headers['iothub-sequencenumber']), /^\d+$/);
    await settle('d2', 'complete', lockOf(res));
  });

  test('path case does not matter: deviceBound, devicebound, DEVICEBOUND', async () => {
    await h.createDevice('d3');
    for (const segment of ['deviceBound', 'devicebound', 'DEVICEBOUND']) {
      await send('d3', segment);
      const res = await receive('d3', segment);
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), segment);
      const del = await h.request('DELETE', `/DEVICES/d3/Messages/${segment}/${lockOf(res)}?${API}`, {
        headers: { authorization: await h.deviceToken('d3') },
      });
      assert.equal(del.status, 204);
    }
  });

  test('reject with ?reject, &reject= or &reject=true dead-letters with Rejected feedback', async () => {
    await h.createDevice('d4');
    for (const [i, query] of ['&reject', '&reject=', '&reject=true'].entries()) {
      await send('d4', 'r', { 'iothub-messageid': `rej-${i}`, 'iothub-ack': 'negative' });
      const res = await receive('d4');
      assert.equal((await settle('d4', 'reject', lockOf(res), query)).status, 204);
    }
    assert.equal(await depth('d4'), 0);
    const records = await feedback();
    assert.deepEqual(
      records.map((r) => [r.originalMessageId, r.statusCode]),
      [
        ['rej-0', 'Rejected'],
        ['rej-1', 'Rejected'],
        ['rej-2', 'Rejected'],
      ],
    );
  });

  test('abandon puts the message back with a higher delivery count; max delivery count dead-letters it', async () => {
    await h.createDevice('d5');
    await send('d5', 'a', { 'iothub-messageid': 'ab-1', 'iothub-ack': 'full' });
    for (let count = 0; count < 3; count++) {
      const res = await receive('d5');
      assert.equal(res.status, 200);
      assert.equal(res.headers['iothub-deliverycount'], String(count));
      assert.equal((await settle('d5', 'abandon', lockOf(res))).status, 204);
    }
    assert.equal((await receive('d5')).status, 204);
    assert.deepEqual(
      (await feedback()).map((r) => [r.originalMessageId, r.statusCode]),
      [['ab-1', 'DeliveryCountExceeded']],
    );
  });

  test('settling twice, with an unknown token or after the lock expired is 412 DeviceMessageLockLost', async () => {
    await h.createDevice('d6');
    await send('d6', 'x');
    const first = await receive('d6');
    const lock = lockOf(first);
    assert.equal((await settle('d6', 'complete', lock)).status, 204);
    for (const action of ['complete', 'reject', 'abandon'] as const) {
      const res = await settle('d6', action, lock);
      assert.equal(res.status, 412);
      assert.equal(res.headers['iothub-errorcode'], 'DeviceMessageLockLost');
    }
    assert.equal(
      (await settle('d6', 'complete', 'not-a-lock-token')).headers['iothub-errorcode'],
      'DeviceMessageLockLost',
    );

    await send('d6', 'y');
    const second = await receive('d6');
    await h.advance(h.config.c2d.lockTimeoutMs + 1);
    const late = await settle('d6', 'complete', lockOf(second));
    assert.equal(late.status, 412);
    assert.equal(late.headers['iothub-errorcode'], 'DeviceMessageLockLost');
    // The lock expired, so the message is back and can be received again.
    const again = await receive('d6');
    assert.equal(again.status, 200);
    assert.equal(again.body.toString(), 'y');
    await settle('d6', 'complete', lockOf(again));
  });

  test('a DeviceConnect policy token works for any device; an unknown device is then 404', async () => {
    await h.createDevice('d7');
    await send('d7', 'via policy');
    const policyToken = h.serviceToken('device');
    const res = await receive('d7', 'devicebound', policyToken);
    assert.equal(res.status, 200);
    const del = await h.request('DELETE', `/devices/d7/messages/devicebound/${lockOf(res)}?${API}`, {
      headers: { authorization: policyToken },
    });
    assert.equal(del.status, 204);
    const ghost = await receive('ghost', 'devicebound', policyToken);
    assert.equal(ghost.status, 404);
    assert.equal(ghost.headers['iothub-errorcode'], 'DeviceNotFound');
    // ServiceConnect alone is not DeviceConnect.
    const svc = await receive('d7', 'devicebound', h.serviceToken('service'));
    assert.equal(svc.status, 401);
  });

  test("another device's token, a disabled device and a wrong key are refused", async () => {
    await h.createDevice('d8');
    await h.createDevice('d9');
    await send('d8', 'private');
    const other = await receive('d8', 'devicebound', await h.deviceToken('d9'));
    assert.equal(other.status, 401);
    assert.equal(other.headers['iothub-errorcode'], 'IotHubUnauthorizedAccess');
    const forged = await receive(
      'd8',
      'devicebound',
      await h.deviceToken('d8', { key: Buffer.alloc(32, 9).toString('base64') }),
    );
    assert.equal(forged.status, 401);
    await h.registry.update('d9', { status: 'disabled' }, '*');
    const disabled = await receive('d9');
    assert.equal(disabled.status, 403);
    assert.equal(disabled.headers['iothub-errorcode'], 'DeviceDisabled');
    const disabledViaPolicy = await receive('d9', 'devicebound', h.serviceToken('device'));
    assert.equal(disabledViaPolicy.headers['iothub-errorcode'], 'DeviceDisabled');
    assert.equal(await depth('d8'), 1, 'the refused receives leased nothing');
  });

  test('receiving records lastActivityTime', async () => {
    await h.createDevice('d10');
    await receive('d10');
    const d = await h.registry.get('d10');
    assert.equal(d.lastActivityTime, new Date(h.clock.now()).toISOString());
  });

  test('Unicode property values and odd property names survive the headers', async () => {
    await h.createDevice('d11');
    await h.engine.send('d11', {
      body: Buffer.from('u'),
      messageId: 'uni',
      properties: { city: 'Zürich ✓', 'with space': 'a\nb' },
    });
    const res = await receive('d11');
    assert.equal(res.status, 200);
    assert.equal(Buffer.from(res.headers['iothub-app-city'] as string, 'latin1').toString('utf8'), 'Zürich ✓');
    assert.equal(res.headers['iothub-app-with%20space'], 'a%0Ab');
    await settle('d11', 'complete', lockOf(res));
  });
});
