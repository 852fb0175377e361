/** Ferry's console endpoints over HTTP: GET /devices paging, the pending peek, the event stream. */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createSasToken } from '@ferry/common';
import type { DeviceJson } from '../src/registry/types.js';
import { API, type HttpHarness, hubError, startHttpHarness } from './http-harness.js';

let h: HttpHarness;
before(async () => {
  h = await startHttpHarness();
});
after(async () => {
  await h.close();
});

const auth = (policy: string) => ({ authorization: h.serviceToken(policy) });

describe('GET /devices paging (x-ms-continuation)', () => {
  test('pages beyond 1,000 devices: every id once, in order, the last page without a token', async () => {
    for (let i = 0; i < 1005; i++) await h.registry.create({ deviceId: `page-${String(i).padStart(4, '0')}` });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const headers: Record<string, string> = auth('registryRead');
      if (token) headers['x-ms-continuation'] = token;
      const res = await h.request('GET', `/devices?${API}`, { headers });
      assert.equal(res.status, 200);
      seen.push(...(res.json() as DeviceJson[]).map((d) => d.deviceId));
      token = res.headers['x-ms-continuation'] as string | undefined;
      pages++;
    } while (token);
    assert.equal(pages, 2);
    const pageIds = seen.filter((id) => id.startsWith('page-'));
    assert.equal(pageIds.length, 1005);
    assert.deepEqual(pageIds, [...pageIds].sort());
    assert.equal(new Set(seen).size, seen.length);
  });

  test('top and contains: small pages of matching ids only; a forged token is 400 ArgumentInvalid', async () => {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const headers: Record<string, string> = auth('iothubowner');
      if (token) headers['x-ms-continuation'] = token;
      const res = await h.request('GET', `/devices?top=4&contains=PAGE-099&${API}`, { headers });
      const page = res.json() as DeviceJson[];
      assert.ok(page.length <= 4);
      ids.push(...page.map((d) => d.deviceId));
      token = res.headers['x-ms-continuation'] as string | undefined;
    } while (token);
    assert.deepEqual(
      ids,
      Array.from({ length: 10 }, (_, i) => `page-099${i}`),
    );
    const bad = await h.request('GET', `/devices?${API}`, {
      headers: { ...auth('iothubowner'), 'x-ms-continuation': 'not a token!' },
    });
    assert.equal(bad.status, 400);
    assert.equal(hubError(bad).code, 'ArgumentInvalid');
  });
});

describe('GET /devices/{id}/messages/deviceBound/pending', () => {
  test('shows Enqueued and Invisible messages with their fields, and leases nothing', async () => {
    await h.createDevice('peek-1');
    await h.engine.send('peek-1', {
      body: Buffer.from('first'),
      messageId: 'm1',
      ack: 'full',
      properties: { a: '1', 'b c': 'x y' },
    });
    await h.engine.send('peek-1', { body: Buffer.from('second'), messageId: 'm2', contentType: 'text/plain' });
    const [leased] = await h.engine.receive('peek-1');
    assert.equal(leased?.messageId, 'm1');
    const res = await h.request('GET', `/devices/peek-1/messages/deviceBound/pending?${API}`, {
      headers: auth('service'),
    });
    assert.equal(res.status, 200);
    const list = res.json() as Array<Record<string, unknown>>;
    assert.deepEqual(
      list.map((m) => [m.sequenceNumber, m.messageId, m.state, m.deliveryCount]),
      [
        [1, 'm1', 'Invisible', 0],
        [2, 'm2', 'Enqueued', 0],
      ],
    );
    assert.deepEqual(list[0]!.properties, { a: '1', 'b c': 'x y' });
    assert.equal(list[0]!.ack, 'full');
    assert.equal(Buffer.from(list[1]!.bodyPreview as string, 'base64').toString(), 'second');
    assert.equal(list[1]!.bodySize, 6);
    assert.equal(list[1]!.contentType, 'text/plain');
    assert.equal(list[1]!.lockedUntilUtc, null);
    assert.equal(list[0]!.lockedUntilUtc, new Date(leased!.lockedUntil).toISOString());
    // The peek took nothing: the second message is still there to receive.
    const [next] = await h.engine.receive('peek-1');
    assert.equal(next?.messageId, 'm2');
    const top1 = await h.request('GET', `/devices/peek-1/messages/deviceBound/pending?top=1&${API}`, {
      headers: auth('service'),
    });
    assert.equal((top1.json() as unknown[]).length, 1);
  });

  test('needs ServiceConnect; an unknown device is 404; a bad top is 400', async () => {
    await h.createDevice('peek-2');
    const path = `/devices/peek-2/messages/deviceBound/pending?${API}`;
    for (const policy of ['registryRead', 'registryReadWrite', 'device']) {
      const res = await h.request('GET', path, { headers: auth(policy) });
      assert.equal(res.status, 401, policy);
      assert.equal(hubError(res).code, 'IotHubUnauthorizedAccess');
    }
    const deviceOwn = await h.request('GET', path, { headers: { authorization: await h.deviceToken('peek-2') } });
    assert.equal(deviceOwn.status, 401);
    const missing = await h.request('GET', `/devices/nobody/messages/deviceBound/pending?${API}`, {
      headers: auth('iothubowner'),
    });
    assert.equal(missing.status, 404);
    assert.equal(hubError(missing).code, 'DeviceNotFound');
    const badTop = await h.request('GET', `/devices/peek-2/messages/deviceBound/pending?top=0&${API}`, {
      headers: auth('iothubowner'),
    });
    assert.equal(badTop.status, 400);
    assert.equal(hubError(badTop).code, 'ArgumentInvalid');
  });
});

interface Sse {
  status: number;
  contentType: string | undefined;
  /** Resolves with the data of the next event of that name matching `accept` (earlier ones are skipped). */
  next(name: string, accept?: (data: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  ended: Promise<void>;
  close(): void;
}

function openEvents(path: string, authorization: string): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const port = Number(new URL(h.baseUrl).port);
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization }, agent: false }, (res) => {
      const events: Array<{ name: string; data: Record<string, unknown> }> = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (name && data) events.push({ name, data: JSON.parse(data) as Record<string, unknown> });
          end = buffer.indexOf('\n\n');
        }
        for (const w of waiters) w();
      });
      const ended = new Promise<void>((r) => res.once('end', r));
      resolve({
        status: res.statusCode ?? 0,
        contentType: res.headers['content-type'],
        ended,
        next(name, accept = () => true) {
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`no "${name}" event within 20 s`)), 20_000);
            const look = () => {
              const i = events.findIndex((e) => e.name === name && accept(e.data));
              if (i < 0) return;
              const [e] = events.splice(0, i + 1).slice(-1);
              clearTimeout(timer);
              waiters.delete(look);
              ok(e!.data);
            };
            waiters.add(look);
            look();
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /events (Server-Sent Events)', () => {
  test('feedback records arrive live and stay in the queue for back-end receivers', async () => {
    await h.createDevice('ev-1');
    await h.createDevice('ev-2');
    const all = await openEvents(`/events?${API}`, h.serviceToken('service'));
    const one = await openEvents(`/events?deviceId=ev-2&${API}`, h.serviceToken('service'));
    assert.equal(all.status, 200);
    assert.equal(all.contentType, 'text/event-stream; charset=utf-8');
    const first = await all.next('stats');
    assert.deepEqual(Object.keys(first.c2d as object).sort(), ['abandoned', 'completed', 'rejected', 'sent']);
    assert.equal(first.devices, undefined, 'the service policy may not read the registry');
    for (const id of ['ev-1', 'ev-2']) {
      await h.engine.send(id, { body: Buffer.from('x'), messageId: `fb-${id}`, ack: 'full' });
      const [d] = await h.engine.receive(id);
      await h.engine.complete(id, d!.lockToken);
    }
    const rec = await all.next('feedback', (r) => r.originalMessageId === 'fb-ev-2');
    assert.equal(rec.statusCode, 'Success');
    assert.equal(rec.deviceId, 'ev-2');
    const filtered = await one.next('feedback');
    assert.equal(filtered.originalMessageId, 'fb-ev-2', 'the device filter left out ev-1');
    // A back-end receiver still gets both records.
    const got: string[] = [];
    for (;;) {
      const res = await h.request('GET', `/messages/serviceBound/feedback?${API}`, { headers: auth('service') });
      if (res.status === 204) break;
      got.push(...(res.json() as Array<{ originalMessageId: string }>).map((r) => r.originalMessageId));
      const lock = (res.headers.etag as string).slice(1, -1);
      await h.request('DELETE', `/messages/serviceBound/feedback/${lock}?${API}`, { headers: auth('service') });
    }
    assert.ok(got.includes('fb-ev-1') && got.includes('fb-ev-2'), got.join());
    all.close();
    one.close();
  });

  test('recent records first; the owner sees device counts; the stream ends with "expired" when the token does', async () => {
    const now = Math.floor(h.clock.now() / 1000);
    const sse = await openEvents(`/events?${API}`, h.serviceToken('iothubowner', { expiry: now + 60 }));
    // The hub's recent records come first, so a page opened now still sees the earlier ones.
    const replayed = await sse.next('feedback', (r) => r.originalMessageId === 'fb-ev-1');
    assert.equal(replayed.statusCode, 'Success');
    const stats = await sse.next('stats');
    assert.equal(typeof (stats.devices as { total: number }).total, 'number');
    assert.equal(typeof (stats.queues as { enqueued: number }).enqueued, 'number');
    // The 5-minute skew applies to streams as to every token.
    await h.advance(60_000 + 5 * 60_000 + 1000);
    await sse.next('expired');
    await sse.ended;
  });

  test('needs ServiceConnect', async () => {
    const res = await h.request('GET', `/events?${API}`, { headers: auth('registryReadWrite') });
    assert.equal(res.status, 401);
    assert.equal(hubError(res).code, 'IotHubUnauthorizedAccess');
  });
});

describe('GET /hubInfo', () => {
  test('any policy: its own rights and the connection strings of policies granting no more', async () => {
    const info = async (policy: string) => {
      const res = await h.request('GET', `/hubInfo?${API}`, { headers: auth(policy) });
      assert.equal(res.status, 200);
      return res.json() as {
        caller: { policyName: string; rights: string[] };
        policies: Array<{ keyName: string; connectionString: string }>;
      };
    };
    const owner = await info('iothubowner');
    assert.deepEqual(owner.policies.map((p) => p.keyName).sort(), [
      'device',
      'iothubowner',
      'registryRead',
      'registryReadWrite',
      'service',
    ]);
    const key = h.registry.policy('service')!.primaryKey;
    assert.equal(
      owner.policies.find((p) => p.keyName === 'service')!.connectionString,
      `HostName=localhost;SharedAccessKeyName=service;SharedAccessKey=${key}`,
    );
    const service = await info('service');
    assert.deepEqual(service.caller, { policyName: 'service', rights: ['ServiceConnect'] });
    assert.deepEqual(
      service.policies.map((p) => p.keyName),
      ['service'],
    );
    const rw = await info('registryReadWrite');
    assert.deepEqual(rw.policies.map((p) => p.keyName).sort(), ['registryRead', 'registryReadWrite']);
    await h.createDevice('info-1');
    const device = await h.request('GET', `/hubInfo?${API}`, {
      headers: { authorization: await h.deviceToken('info-1') },
    });
    assert.equal(device.status, 401);
    const anonymous = await h.request('GET', `/hubInfo?${API}`);
    assert.equal(anonymous.status, 401);
  });

  test('issue 23: an owner-signed token scoped to one device or to /messages gets 401, not the keys', async () => {
    const owner = h.registry.policy('iothubowner')!;
    const scoped = (path: string) =>
      createSasToken({
        resourceUri: `localhost${path}`,
        key: owner.primaryKey,
        keyName: 'iothubowner',
        expiry: Math.floor(h.clock.now() / 1000) + 3600,
        encode: false,
      });
    for (const path of ['/devices/dev1', '/messages', '/devices']) {
      const res = await h.request('GET', `/hubInfo?${API}`, { headers: { authorization: scoped(path) } });
      assert.equal(res.status, 401, path);
      assert.equal(hubError(res).code, 'IotHubUnauthorizedAccess');
      assert.doesNotMatch(res.body.toString(), new RegExp(owner.primaryKey.replace(/[+/]/g, '.')));
    }
    // sr = host/ is the whole hub.
    const whole = await h.request('GET', `/hubInfo?${API}`, { headers: { authorization: scoped('/') } });
    assert.equal(whole.status, 200);
  });

  test('issue 23: key-bearing answers say Cache-Control: no-store', async () => {
    const info = await h.request('GET', `/hubInfo?${API}`, { headers: auth('iothubowner') });
    assert.equal(info.headers['cache-control'], 'no-store');
    await h.createDevice('nostore-1');
    for (const path of ['/devices/nostore-1', '/devices']) {
      const res = await h.request('GET', `${path}?${API}`, { headers: auth('registryRead') });
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /primaryKey/);
      assert.equal(res.headers['cache-control'], 'no-store', path);
    }
  });
});
