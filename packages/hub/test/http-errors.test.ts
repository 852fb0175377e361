import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createSasToken } from '@ferry/common';
import pino from 'pino';
import type { Authenticator } from '../src/auth/types.js';
import { ManualClock } from '../src/clock.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import type { C2dEngine } from '../src/engine/types.js';
import { createHttpGateway } from '../src/gateways/http/gateway.js';
import type { Registry } from '../src/registry/types.js';
import { API, HOST, type HttpHarness, type HttpResponse, startHttpHarness } from './http-harness.js';

let h: HttpHarness;
before(async () => {
  h = await startHttpHarness();
  await h.createDevice('e1');
});
after(async () => {
  await h.close();
});

function assertError(res: HttpResponse, status: number, code: string): void {
  assert.equal(res.status, status, `${res.status} ${res.body.toString()}`);
  assert.equal(res.headers['iothub-errorcode'], code);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { Message: string; ExceptionMessage: string };
  assert.ok(body.Message.startsWith(`ErrorCode:${code};`), body.Message);
  assert.match(body.ExceptionMessage, /^Tracking ID:[0-9a-f-]{36}-TimeStamp:\d{4}-/);
}

const owner = () => ({ authorization: h.serviceToken('iothubowner') });

describe('api-version', () => {
  test('missing or empty on every endpoint family is 400 InvalidProtocolVersion', async () => {
    const device = { authorization: await h.deviceToken('e1') };
    const cases: Array<[string, string, Record<string, string>]> = [
      ['GET', '/devices/e1', owner()],
      ['GET', '/devices', owner()],
      ['GET', '/statistics/devices', owner()],
      ['DELETE', '/devices/e1/commands', owner()],
      ['GET', '/devices/e1/messages/devicebound', device],
      ['DELETE', '/devices/e1/messages/devicebound/lock', device],
      ['POST', '/devices/e1/messages/devicebound', owner()],
      ['GET', '/messages/serviceBound/feedback', owner()],
    ];
    for (const [method, path, headers] of cases) {
      assertError(await h.request(method, path, { headers }), 400, 'InvalidProtocolVersion');
      assertError(await h.request(method, `${path}?api-version=`, { headers }), 400, 'InvalidProtocolVersion');
    }
    assert.equal(await h.engine.queueDepth('e1'), 0);
  });

  test('any value is accepted, whatever the key case', async () => {
    for (const q of [
      'api-version=2016-11-14',
      'api-version=2020-09-30',
      'api-version=banana',
      'API-Version=2021-04-12',
    ]) {
      assert.equal((await h.request('GET', `/devices/e1?${q}`, { headers: owner() })).status, 200, q);
    }
  });
});

describe('Authorization', () => {
  test('missing, garbled, wrong signature, expired, other host, unknown policy: 401 IotHubUnauthorizedAccess', async () => {
    const p = h.registry.policy('iothubowner')!;
    const now = Math.floor(h.clock.now() / 1000);
    const tokens: Array<string | undefined> = [
      undefined,
      '',
      'Bearer abc',
      'SharedAccessSignature garbage',
      'SharedAccessSignature sr=localhost&sig=%%%&se=1&skn=iothubowner',
      h.serviceToken('iothubowner', { key: Buffer.alloc(32, 3).toString('base64') }),
      h.serviceToken('iothubowner', { expiry: now - 3600 }),
      createSasToken({
        resourceUri: 'elsewhere',
        key: p.primaryKey,
        keyName: 'iothubowner',
        expiry: now + 3600,
        encode: false,
      }),
      createSasToken({ resourceUri: HOST, key: p.primaryKey, keyName: 'nobody', expiry: now + 3600, encode: false }),
    ];
    for (const t of tokens) {
      const headers: Record<string, string> = t === undefined ? {} : { authorization: t };
      assertError(await h.request('GET', `/devices/e1?${API}`, { headers }), 401, 'IotHubUnauthorizedAccess');
    }
  });

  test('the secondary key works too', async () => {
    const p = h.registry.policy('iothubowner')!;
    const res = await h.request('GET', `/devices/e1?${API}`, {
      headers: { authorization: h.serviceToken('iothubowner', { key: p.secondaryKey }) },
    });
    assert.equal(res.status, 200);
  });
});

describe('routing', () => {
  test('unknown paths are 404 NotFound', async () => {
    for (const path of [
      '/',
      '/nothing',
      '/devices/e1/twin',
      '/devices/e1/modules/m1/messages/events',
      '/messages/serviceBound/other',
    ]) {
      assertError(await h.request('GET', `${path}?${API}`, { headers: owner() }), 404, 'NotFound');
    }
  });

  test('under IoT Hub prefixes an unserved path or method authenticates first: 401 before 404/405', async () => {
    const now = Math.floor(h.clock.now() / 1000);
    const device = await h.deviceToken('e1');
    const bad: Array<Record<string, string>> = [
      {},
      { authorization: 'SharedAccessSignature garbage' },
      { authorization: h.serviceToken('iothubowner', { key: Buffer.alloc(32, 3).toString('base64') }) },
      { authorization: h.serviceToken('iothubowner', { expiry: now - 3600 }) },
    ];
    const unserved: Array<[string, string]> = [
      ['POST', '/devices/e1/modules/m1/messages/events'],
      ['GET', '/devices/e1/twin'],
      ['GET', '/twins/e1'],
      ['GET', '/messages/serviceBound/other'],
      ['GET', '/statistics/service'],
      ['GET', '/certificates'],
      ['GET', '/configurations'],
      ['GET', '/jobs/v2'],
      ['PATCH', '/devices/e1'],
    ];
    for (const [method, path] of unserved) {
      for (const headers of bad) {
        assertError(await h.request(method, `${path}?${API}`, { headers }), 401, 'IotHubUnauthorizedAccess');
      }
      // Without api-version too: the token is checked before anything else is said.
      assertError(await h.request(method, path, { headers: {} }), 401, 'IotHubUnauthorizedAccess');
    }
    // Authenticated callers (a policy, or the device itself) learn that the path is not served.
    const events = await h.request('POST', `/devices/e1/modules/m1/messages/events?${API}`, {
      headers: { authorization: device },
      body: 'x',
    });
    assertError(events, 404, 'NotFound');
    assertError(await h.request('GET', `/twins/e1/modules/m1?${API}`, { headers: owner() }), 404, 'NotFound');
    assertError(
      await h.request('PATCH', `/devices/e1?${API}`, { headers: owner(), body: '{}' }),
      405,
      'MethodNotAllowed',
    );
  });

  test('outside IoT Hub prefixes unknown paths stay 404 without a token', async () => {
    assertError(await h.request('GET', `/nothing?${API}`, { headers: {} }), 404, 'NotFound');
  });

  test('a known path with the wrong method is 405 with Allow', async () => {
    const res = await h.request('PATCH', `/devices/e1?${API}`, { headers: owner(), body: '{}' });
    assertError(res, 405, 'MethodNotAllowed');
    assert.equal(res.headers.allow, 'PUT, GET, DELETE');
    assertError(await h.request('POST', `/statistics/devices?${API}`, { headers: owner() }), 405, 'MethodNotAllowed');
  });

  test('bad percent-encoding in the path is 400 ArgumentInvalid', async () => {
    assertError(await h.request('GET', `/devices/%E0%A4%A?${API}`, { headers: owner() }), 400, 'ArgumentInvalid');
  });

  test('an empty id segment matches nothing', async () => {
    assertError(await h.request('GET', `/devices//messages/devicebound?${API}`, { headers: owner() }), 404, 'NotFound');
  });
});

describe('robustness', () => {
  test('random requests always get an answer and the hub keeps serving', async () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = [
      'devices',
      'e1',
      'messages',
      'deviceBound',
      'feedback',
      'serviceBound',
      '%2F',
      '%00',
      '..',
      'abandon',
      'commands',
      '',
    ];
    const methods = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'];
    const bodies = [
      '',
      '{',
      'null',
      '[]',
      '{"deviceId":42}',
      '\u0000\u0001',
      '{"authentication":{"symmetricKey":{"primaryKey":"!"}}}',
    ];
    const headerSets = [
      {},
      owner(),
      { authorization: await h.deviceToken('e1') },
      { authorization: 'SharedAccessSignature sr=&sig=&se=' },
      { ...owner(), 'if-match': '"x"', 'iothub-ack': 'full', 'iothub-expiry': 'soon' },
    ];
    for (let i = 0; i < 200; i++) {
      const path = `/${Array.from({ length: 1 + rand(5) }, () => pieces[rand(pieces.length)]).join('/')}`;
      const query = rand(4) === 0 ? '' : `?${API}${rand(3) === 0 ? '&reject&top=-1' : ''}`;
      const method = methods[rand(methods.length)]!;
      const res = await h.request(method, path + query, {
        headers: headerSets[rand(headerSets.length)],
        // Node's client sends a GET/DELETE/OPTIONS body without Content-Length (a malformed
        // request), so bodies go only with the methods that carry one.
        body: ['PUT', 'POST', 'PATCH'].includes(method) ? bodies[rand(bodies.length)] : undefined,
      });
      assert.ok(res.status >= 200 && res.status < 500, `${path}${query} -> ${res.status} ${res.body.toString()}`);
      if (res.status >= 400) assert.equal(typeof res.headers['iothub-errorcode'], 'string');
    }
    assert.equal((await h.request('GET', `/devices/e1?${API}`, { headers: owner() })).status, 200);
  });
});

describe('internal failures', () => {
  test('an unexpected engine error is 500 ServerError without its text, and is logged', async () => {
    const logged: unknown[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => logged.push(JSON.parse(line)) });
    const explode = async (): Promise<never> => {
      throw new Error('disk on fire at /secret/path');
    };
    const engine = { receive: explode } as Pick<C2dEngine, 'receive'> as C2dEngine;
    const registry = {
      identity: async (deviceId: string) => ({
        deviceId,
        generationId: '1',
        status: 'enabled',
        authType: 'sas',
        primaryKey: null,
        secondaryKey: null,
        primaryThumbprint: null,
        secondaryThumbprint: null,
      }),
      touch: () => {},
    } as Pick<Registry, 'identity' | 'touch'> as Registry;
    const auth: Authenticator = {
      authenticate: async () => ({ kind: 'device', deviceId: 'x', expiresAt: Number.MAX_SAFE_INTEGER }),
      authorize: () => {},
      can: () => true,
    };
    const gateway = createHttpGateway({
      engine,
      registry,
      auth,
      config: DEFAULT_CONFIG,
      clock: new ManualClock(),
      logger,
      hubName: 'hub',
    });
    const server = createServer((req, res) => gateway.handle(req, res)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const res = await new Promise<HttpResponse>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: (server.address() as AddressInfo).port,
            path: `/devices/x/messages/devicebound?${API}`,
            headers: { authorization: 'SharedAccessSignature any' },
          },
          (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => {
              const body = Buffer.concat(chunks);
              resolve({ status: r.statusCode ?? 0, headers: r.headers, body, json: () => JSON.parse(body.toString()) });
            });
          },
        );
        req.on('error', reject);
        req.end();
      });
      assertError(res, 500, 'ServerError');
      assert.ok(!res.body.toString().includes('secret'));
      assert.equal(logged.length, 1);
      assert.match(JSON.stringify(logged[0]), /disk on fire/);
    } finally {
      server.close();
    }
  });
});
