import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DeviceJson } from '../src/registry/types.js';
import { API, type HttpHarness, type HttpResponse, startHttpHarness } from './http-harness.js';

let h: HttpHarness;
before(async () => {
  h = await startHttpHarness({ maxBodyBytes: 4096 });
});
after(async () => {
  await h.close();
});

function owner(extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: h.serviceToken('iothubowner'), ...extra };
}

function put(id: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return h.request('PUT', `/devices/${encodeURIComponent(id)}?${API}`, {
    headers: owner({ 'content-type': 'application/json; charset=utf-8', ...headers }),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function assertError(res: HttpResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.body.toString());
  assert.equal(res.headers['iothub-errorcode'], code);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { Message: string; ExceptionMessage: string };
  assert.ok(body.Message.startsWith(`ErrorCode:${code};`), body.Message);
  assert.ok(body.Message.split(';')[1]);
  assert.match(body.ExceptionMessage, /^Tracking ID:[0-9a-f-]{36}-TimeStamp:/);
}

/** The body the Node registry sends on create (official-sdk-wire.md D.2). */
const sdkCreateBody = (deviceId: string) => ({
  deviceId,
  authentication: { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } },
});

describe('registry over HTTP', () => {
  test('PUT without If-Match creates with generated keys; 200 JSON; a second create is 409', async () => {
    const res = await put('reg-1', sdkCreateBody('reg-1'));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    const d = res.json() as DeviceJson;
    assert.equal(d.deviceId, 'reg-1');
    assert.match(d.generationId, /^\d{18}$/);
    assert.equal(res.headers.etag, `"${d.etag}"`);
    assert.equal(Buffer.from(d.authentication.symmetricKey.primaryKey!, 'base64').length, 32);
    assert.equal(d.cloudToDeviceMessageCount, 0);
    assert.equal(d.connectionState, 'Disconnected');
    assert.equal(d.lastActivityTime, '0001-01-01T00:00:00Z');
    assertError(await put('reg-1', sdkCreateBody('reg-1')), 409, 'DeviceAlreadyExists');
  });

  test('PUT with If-Match "*" updates and keeps keys; a stale etag is 412', async () => {
    const created = (await put('reg-2', sdkCreateBody('reg-2'))).json() as DeviceJson;
    const res = await put(
      'reg-2',
      { ...sdkCreateBody('reg-2'), status: 'disabled', statusReason: 'x' },
      { 'if-match': '"*"' },
    );
    assert.equal(res.status, 200);
    const updated = res.json() as DeviceJson;
    assert.equal(updated.status, 'disabled');
    assert.equal(updated.authentication.symmetricKey.primaryKey, created.authentication.symmetricKey.primaryKey);
    assertError(
      await put('reg-2', { deviceId: 'reg-2' }, { 'if-match': `"${created.etag}"` }),
      412,
      'PreconditionFailed',
    );
    const ok = await put('reg-2', { deviceId: 'reg-2', status: 'enabled' }, { 'if-match': `"${updated.etag}"` });
    assert.equal(ok.status, 200);
    assertError(await put('reg-nobody', { deviceId: 'reg-nobody' }, { 'if-match': '*' }), 404, 'DeviceNotFound');
  });

  test('PUT takes the id from the URL; a body naming another device is 400', async () => {
    const res = await put('reg-url', {});
    assert.equal(res.status, 200);
    assert.equal((res.json() as DeviceJson).deviceId, 'reg-url');
    assertError(await put('reg-3', { deviceId: 'someone-else' }), 400, 'ArgumentInvalid');
  });

  test('encoded ids are decoded: a#b and a%b', async () => {
    for (const id of ['a#b', 'a%b', "x:y;z$'()"]) {
      const res = await put(id, sdkCreateBody(id));
      assert.equal(res.status, 200, res.body.toString());
      const got = await h.request('GET', `/devices/${encodeURIComponent(id)}?${API}`, { headers: owner() });
      assert.equal((got.json() as DeviceJson).deviceId, id);
    }
  });

  test('an invalid device id is 400 ArgumentInvalid', async () => {
    assertError(await put('has space', {}), 400, 'ArgumentInvalid');
    assertError(await put('x'.repeat(129), {}), 400, 'ArgumentInvalid');
  });

  test('malformed JSON, an empty body and a non-object are 400 ArgumentInvalid and create nothing', async () => {
    assertError(await put('reg-json', '{"deviceId": "reg-json", "status": '), 400, 'ArgumentInvalid');
    assertError(await put('reg-json', ''), 400, 'ArgumentInvalid');
    assertError(await put('reg-json', '[1,2]'), 400, 'ArgumentInvalid');
    assertError(await h.request('GET', `/devices/reg-json?${API}`, { headers: owner() }), 404, 'DeviceNotFound');
  });

  test('a body over http.maxBodyBytes is 413 MessageTooLarge', async () => {
    const big = JSON.stringify({ deviceId: 'reg-big', pad: 'x'.repeat(5000) });
    assertError(await put('reg-big', big), 413, 'MessageTooLarge');
    const chunked = await h.request('PUT', `/devices/reg-big?${API}`, {
      headers: owner(),
      chunks: [Buffer.from('{"deviceId":"reg-big","pad":"'), Buffer.alloc(5000, 0x61), Buffer.from('"}')],
    });
    assertError(chunked, 413, 'MessageTooLarge');
    assertError(await h.request('GET', `/devices/reg-big?${API}`, { headers: owner() }), 404, 'DeviceNotFound');
  });

  test('GET unknown is 404 DeviceNotFound in the legacy body the Node SDK parses', async () => {
    const res = await h.request('GET', `/devices/ghost?${API}`, { headers: owner() });
    assertError(res, 404, 'DeviceNotFound');
  });

  test('list with and without the trailing slash, top honoured; statistics', async () => {
    await put('reg-dis', { status: 'disabled' });
    for (const path of ['/devices', '/devices/', '/Devices/']) {
      const res = await h.request('GET', `${path}?${API}`, { headers: owner() });
      assert.equal(res.status, 200);
      const list = res.json() as DeviceJson[];
      assert.ok(list.length >= 5);
      assert.ok(list.every((d) => typeof d.deviceId === 'string'));
    }
    const top = await h.request('GET', `/devices/?top=2&${API}`, { headers: owner() });
    assert.equal((top.json() as DeviceJson[]).length, 2);
    const stats = await h.request('GET', `/statistics/devices?${API}`, { headers: owner() });
    assert.equal(stats.status, 200);
    const s = stats.json() as { totalDeviceCount: number; enabledDeviceCount: number; disabledDeviceCount: number };
    assert.equal(s.totalDeviceCount, s.enabledDeviceCount + s.disabledDeviceCount);
    assert.ok(s.disabledDeviceCount >= 1);
  });

  test('DELETE with If-Match: stale 412, match 204, then 404', async () => {
    const d = (await put('reg-del', {})).json() as DeviceJson;
    const del = (ifMatch: string) =>
      h.request('DELETE', `/devices/reg-del?${API}`, { headers: owner({ 'if-match': ifMatch }) });
    assertError(await del('"stale"'), 412, 'PreconditionFailed');
    const ok = await del(`"${d.etag}"`);
    assert.equal(ok.status, 204);
    assert.equal(ok.body.length, 0);
    assertError(await del('"*"'), 404, 'DeviceNotFound');
  });

  test('permissions: registryRead reads but cannot write; service and device tokens cannot touch the registry', async () => {
    await put('reg-perm', {});
    const read = { authorization: h.serviceToken('registryRead') };
    assert.equal((await h.request('GET', `/devices/reg-perm?${API}`, { headers: read })).status, 200);
    assertError(
      await h.request('PUT', `/devices/reg-perm2?${API}`, { headers: read, body: '{}' }),
      401,
      'IotHubUnauthorizedAccess',
    );
    const rw = { authorization: h.serviceToken('registryReadWrite') };
    assert.equal((await h.request('PUT', `/devices/reg-perm2?${API}`, { headers: rw, body: '{}' })).status, 200);
    const service = { authorization: h.serviceToken('service') };
    assertError(
      await h.request('GET', `/devices/reg-perm?${API}`, { headers: service }),
      401,
      'IotHubUnauthorizedAccess',
    );
    const device = { authorization: await h.deviceToken('reg-perm') };
    assertError(
      await h.request('GET', `/devices/reg-perm?${API}`, { headers: device }),
      401,
      'IotHubUnauthorizedAccess',
    );
    assertError(
      await h.request('DELETE', `/devices/reg-perm?${API}`, { headers: device }),
      401,
      'IotHubUnauthorizedAccess',
    );
  });
});

describe('purge over HTTP', () => {
  test('DELETE /devices/{id}/commands purges and reports the count', async () => {
    await put('purge-1', {});
    for (let i = 0; i < 3; i++) {
      const s = await h.request('POST', `/devices/purge-1/messages/deviceBound?${API}`, {
        headers: { authorization: h.serviceToken('service') },
        body: `m${i}`,
      });
      assert.equal(s.status, 204);
    }
    const device = (await h.request('GET', `/devices/purge-1?${API}`, { headers: owner() })).json() as DeviceJson;
    assert.equal(device.cloudToDeviceMessageCount, 3);
    const res = await h.request('DELETE', `/devices/purge-1/commands?${API}`, {
      headers: { authorization: h.serviceToken('service') },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.deepEqual(res.json(), { deviceId: 'purge-1', moduleId: null, totalMessagesPurged: 3 });
    const after = (await h.request('GET', `/devices/purge-1?${API}`, { headers: owner() })).json() as DeviceJson;
    assert.equal(after.cloudToDeviceMessageCount, 0);
  });

  test('purge of an unknown device is 404; it needs ServiceConnect', async () => {
    assertError(
      await h.request('DELETE', `/devices/ghost/commands?${API}`, {
        headers: { authorization: h.serviceToken('service') },
      }),
      404,
      'DeviceNotFound',
    );
    await put('purge-2', {});
    assertError(
      await h.request('DELETE', `/devices/purge-2/commands?${API}`, {
        headers: { authorization: h.serviceToken('registryReadWrite') },
      }),
      401,
      'IotHubUnauthorizedAccess',
    );
    assertError(
      await h.request('DELETE', `/devices/purge-2/commands?${API}`, {
        headers: { authorization: await h.deviceToken('purge-2') },
      }),
      401,
      'IotHubUnauthorizedAccess',
    );
  });
});
