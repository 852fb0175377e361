import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FeedbackRecord } from '@ferry/common';
import { API, type HttpHarness, type HttpResponse, startHttpHarness } from './http-harness.js';

let h: HttpHarness;
before(async () => {
  h = await startHttpHarness();
});
after(async () => {
  await h.close();
});

function sendRaw(deviceId: string, body: string | Buffer, headers: Record<string, string> = {}, auth?: string) {
  return h.request('POST', `/devices/${encodeURIComponent(deviceId)}/messages/deviceBound?${API}`, {
    headers: { authorization: auth ?? h.serviceToken('service'), ...headers },
    body,
  });
}

function assertError(res: HttpResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.body.toString());
  assert.equal(res.headers['iothub-errorcode'], code);
  assert.ok((res.json() as { Message: string }).Message.startsWith(`ErrorCode:${code};`));
}

async function receiveOne(deviceId: string): Promise<HttpResponse> {
  const res = await h.request('GET', `/devices/${deviceId}/messages/devicebound?${API}`, {
    headers: { authorization: await h.deviceToken(deviceId) },
  });
  assert.equal(res.status, 200);
  return res;
}

describe('the send extension', () => {
  test('answers 204 with the message id as sent; the stored message carries every field', async () => {
    await h.createDevice('s1');
    const res = await sendRaw('s1', 'payload', { 'iothub-messageid': 'given-id', 'iothub-app-Mixed': 'x' });
    assert.equal(res.status, 204);
    assert.equal(res.headers['iothub-messageid'], 'given-id');
    assert.equal(res.body.length, 0);
    const [m] = await h.engine.receive('s1');
    assert.ok(m);
    assert.equal(m.messageId, 'given-id');
    assert.equal(m.body.toString(), 'payload');
    // Node lower-cases header names; the property name is kept as received.
    assert.deepEqual(m.properties, { mixed: 'x' });
    // Unset ack and expiry stay unset (no wire shows them); the hub's default TTL still applies.
    assert.equal(m.ack, undefined);
    assert.equal(m.defaultExpiry, true);
    assert.equal(m.expiryTimeUtc, h.clock.now() + h.config.c2d.defaultTtlMs);
    await h.engine.complete('s1', m.lockToken);
  });

  test('without iothub-messageid the message has none (decision 5), and its feedback says so', async () => {
    await h.createDevice('s2');
    const res = await sendRaw('s2', 'x', { 'iothub-ack': 'positive' });
    assert.equal(res.status, 204);
    assert.equal(res.headers['iothub-messageid'], undefined);
    const id = '';
    const got = await receiveOne('s2');
    assert.equal(got.headers['iothub-messageid'], undefined);
    await h.engine.complete('s2', (got.headers.etag as string).slice(1, -1));
    const fb = await h.request('GET', `/messages/serviceBound/feedback?${API}`, {
      headers: { authorization: h.serviceToken('service') },
    });
    assert.equal(fb.status, 200);
    assert.equal((fb.json() as FeedbackRecord[])[0]?.originalMessageId, id);
    await h.engine.completeFeedback((fb.headers.etag as string).slice(1, -1));
  });

  test('expiry with an offset is understood; binary bodies are kept byte for byte', async () => {
    await h.createDevice('s3');
    const at = h.clock.now() + 3_600_000;
    const offsetText = new Date(at + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    const body = Buffer.from([0, 255, 1, 254, 0x80]);
    assert.equal(
      (await sendRaw('s3', body, { 'iothub-expiry': offsetText, 'content-type': 'application/octet-stream' })).status,
      204,
    );
    const [m] = await h.engine.receive('s3');
    assert.equal(m?.expiryTimeUtc, at);
    assert.deepEqual(m?.body, body);
    assert.equal(m?.contentType, 'application/octet-stream');
  });

  test('an unknown ack is 400 ArgumentInvalid; nothing is stored', async () => {
    await h.createDevice('s4');
    for (const ack of ['sometimes', 'FULL', 'true'])
      assertError(await sendRaw('s4', 'x', { 'iothub-ack': ack }), 400, 'ArgumentInvalid');
    assert.equal(await h.engine.queueDepth('s4'), 0);
  });

  test('an unparseable expiry is 400 ArgumentInvalid; a past or too-far one is 403 InvalidMessageExpiryTime', async () => {
    await h.createDevice('s5');
    for (const bad of ['tomorrow', '1', '2030-02-30T00:00:00Z', '2030-01-01T25:00:00Z']) {
      assertError(await sendRaw('s5', 'x', { 'iothub-expiry': bad }), 400, 'ArgumentInvalid');
    }
    const past = new Date(h.clock.now() - 1000).toISOString();
    assertError(await sendRaw('s5', 'x', { 'iothub-expiry': past }), 403, 'InvalidMessageExpiryTime');
    const far = new Date(h.clock.now() + h.config.c2d.maxTtlMs + 60_000).toISOString();
    assertError(await sendRaw('s5', 'x', { 'iothub-expiry': far }), 403, 'InvalidMessageExpiryTime');
    assert.equal(await h.engine.queueDepth('s5'), 0);
  });

  test('a body over 64 KiB is 413 MessageTooLarge, with or without Content-Length; 64 KiB in all fits', async () => {
    await h.createDevice('s6');
    const tooBig = await sendRaw('s6', Buffer.alloc(64 * 1024 + 1, 0x61));
    assertError(tooBig, 413, 'MessageTooLarge');
    // The rest of the body is drained, so the connection stays usable.
    assert.equal(tooBig.headers.connection, 'keep-alive');
    const chunked = await h.request('POST', `/devices/s6/messages/deviceBound?${API}`, {
      headers: { authorization: h.serviceToken('service') },
      chunks: [Buffer.alloc(40_000, 0x61), Buffer.alloc(40_000, 0x62)],
    });
    assertError(chunked, 413, 'MessageTooLarge');
    // Properties count toward the size (the engine's check).
    assertError(
      await sendRaw('s6', Buffer.alloc(64 * 1024 - 2, 0x61), { 'iothub-app-k': 'vvvv' }),
      413,
      'MessageTooLarge',
    );
    assert.equal(await h.engine.queueDepth('s6'), 0);
    // The size counts the message id too (the engine's rule): 65535 + 'm' fits, 65535 + 'mm' does not.
    const fits = await sendRaw('s6', Buffer.alloc(64 * 1024 - 1, 0x61), { 'iothub-messageid': 'm' });
    assert.equal(fits.status, 204);
    assertError(
      await sendRaw('s6', Buffer.alloc(64 * 1024 - 1, 0x61), { 'iothub-messageid': 'mm' }),
      413,
      'MessageTooLarge',
    );
  });

  test('a body far over the limit gets its connection cut, and the hub keeps serving', async () => {
    await h.createDevice('s6b');
    // Beyond the drain allowance the server stops reading and cuts the connection: the client
    // sees the 413 or a reset, depending on timing. Its own connection, so no other request reuses it.
    const huge = await h
      .request('POST', `/devices/s6b/messages/deviceBound?${API}`, {
        agent: false,
        headers: { authorization: h.serviceToken('service') },
        chunks: Array.from({ length: 40 }, () => Buffer.alloc(64 * 1024, 0x61)),
      })
      .catch((err: Error) => err);
    if (!(huge instanceof Error)) assertError(huge, 413, 'MessageTooLarge');
    assert.equal((await sendRaw('s6b', 'fine')).status, 204);
  });

  test('the 51st pending message is 403 DeviceMaximumQueueDepthExceeded', async () => {
    await h.createDevice('s7');
    for (let i = 0; i < 50; i++) assert.equal((await sendRaw('s7', `m${i}`)).status, 204);
    assertError(await sendRaw('s7', 'one too many'), 403, 'DeviceMaximumQueueDepthExceeded');
    assert.equal(await h.engine.queueDepth('s7'), 50);
  });

  test('unknown and disabled devices are 404 DeviceNotFound', async () => {
    assertError(await sendRaw('nobody', 'x'), 404, 'DeviceNotFound');
    await h.createDevice('s8', 'disabled');
    assertError(await sendRaw('s8', 'x'), 404, 'DeviceNotFound');
  });

  test('it needs ServiceConnect: device tokens and registry policies are 401', async () => {
    await h.createDevice('s9');
    assertError(await sendRaw('s9', 'x', {}, await h.deviceToken('s9')), 401, 'IotHubUnauthorizedAccess');
    assertError(await sendRaw('s9', 'x', {}, h.serviceToken('registryReadWrite')), 401, 'IotHubUnauthorizedAccess');
    assert.equal((await sendRaw('s9', 'x', {}, h.serviceToken('iothubowner'))).status, 204);
  });

  test('UTF-8 header values arrive as Unicode', async () => {
    await h.createDevice('s10');
    const res = await h.request('POST', `/devices/s10/messages/deviceBound?${API}`, {
      headers: {
        authorization: h.serviceToken('service'),
        'iothub-app-city': Buffer.from('Zürich', 'utf8').toString('latin1'),
      },
      // A Buffer body: with a string body Node's client UTF-8-encodes the header block a second time.
      body: Buffer.from('x'),
    });
    assert.equal(res.status, 204);
    const [m] = await h.engine.receive('s10');
    assert.equal(m?.properties.city, 'Zürich');
  });
});
