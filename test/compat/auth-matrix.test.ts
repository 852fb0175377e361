/**
 * Issue 23: every REST route the hub serves × every kind of credential, against a real hub over
 * real HTTPS, asserting the exact status of each cell and `Cache-Control: no-store` on every
 * answer. The route list comes from the hub's own router (servedRouteNames): a route added without
 * a row here fails the first test.
 *
 * Each route's request is chosen so that an authorized call is harmless and answers the same
 * whoever makes it and in whatever order (an absent device or certificate, an unknown lock token,
 * an empty queue), so the matrix says only who gets through.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { after, before, test } from 'node:test';
import { createSasToken, parseHubConnectionString } from '@ferry/common';
import { servedRouteNames } from '@ferry/hub';
import { type HubProcess, startHub } from './harness.js';
import { deviceSas, serviceSas, WRONG_KEY } from './helpers/auth.js';

const API = 'api-version=2021-04-12';
const T = { timeout: 60_000 };

type Credential =
  | 'iothubowner'
  | 'service'
  | 'device'
  | 'registryRead'
  | 'registryReadWrite'
  | 'owner scoped to /devices/dev1'
  | 'owner scoped to /messages'
  | 'device dev1'
  | 'device dev2 (another device)'
  | 'expired owner token'
  | 'owner token with a bad signature'
  | 'no token';

const CREDENTIALS: readonly Credential[] = [
  'iothubowner',
  'service',
  'device',
  'registryRead',
  'registryReadWrite',
  'owner scoped to /devices/dev1',
  'owner scoped to /messages',
  'device dev1',
  'device dev2 (another device)',
  'expired owner token',
  'owner token with a bad signature',
  'no token',
];

// Who may do what, spelled out per kind of route (the credentials not named get 401).
const REGISTRY_READ: Credential[] = ['iothubowner', 'registryRead', 'registryReadWrite'];
const REGISTRY_WRITE: Credential[] = ['iothubowner', 'registryReadWrite'];
const SERVICE: Credential[] = ['iothubowner', 'service', 'owner scoped to /messages'];
const DEVICE_DEV1: Credential[] = ['iothubowner', 'device', 'owner scoped to /devices/dev1', 'device dev1'];
// Reading twins and running queries: ServiceConnect or RegistryRead (docs/twins.md).
const TWIN_READ: Credential[] = [...REGISTRY_READ, 'service', 'owner scoped to /messages'];
const WHOLE_HUB_POLICIES: Credential[] = ['iothubowner', 'service', 'device', 'registryRead', 'registryReadWrite'];

interface Row {
  /** The request path (no query) and body. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  allowed: readonly Credential[];
  /** The status of an allowed call. */
  ok: number;
  /** A streaming answer: read the status and headers, then hang up. */
  stream?: true;
}

const lock = randomUUID();
const MATRIX: Record<string, Row> = {
  'PUT /devices/{id}': {
    path: '/devices/matrix-put',
    body: { deviceId: 'matrix-put', status: 'enabled' },
    headers: { 'if-match': '*' },
    allowed: REGISTRY_WRITE,
    ok: 200,
  },
  'GET /devices/{id}': { path: '/devices/dev1', allowed: REGISTRY_READ, ok: 200 },
  'DELETE /devices/{id}': { path: '/devices/matrix-absent', allowed: REGISTRY_WRITE, ok: 404 },
  'GET /devices': { path: '/devices', allowed: REGISTRY_READ, ok: 200 },
  'POST /devices': {
    path: '/devices',
    body: [{ id: 'matrix-bulk', importMode: 'createOrUpdate', status: 'enabled' }],
    allowed: REGISTRY_WRITE,
    ok: 200,
  },
  'GET /statistics/devices': { path: '/statistics/devices', allowed: REGISTRY_READ, ok: 200 },
  'DELETE /devices/{id}/commands': { path: '/devices/dev1/commands', allowed: SERVICE, ok: 200 },
  'GET /devices/{id}/messages/deviceBound': {
    path: '/devices/dev1/messages/deviceBound',
    allowed: DEVICE_DEV1,
    ok: 204,
  },
  'DELETE /devices/{id}/messages/deviceBound/{lockToken}': {
    path: `/devices/dev1/messages/deviceBound/${lock}`,
    allowed: DEVICE_DEV1,
    ok: 412,
  },
  'POST /devices/{id}/messages/deviceBound/{lockToken}/abandon': {
    path: `/devices/dev1/messages/deviceBound/${lock}/abandon`,
    allowed: DEVICE_DEV1,
    ok: 412,
  },
  // Telemetry: appending an event changes nothing any other cell reads.
  'POST /devices/{id}/messages/events': {
    path: '/devices/dev1/messages/events',
    body: 'hello',
    allowed: DEVICE_DEV1,
    ok: 204,
  },
  'POST /devices/{id}/messages/deviceBound': {
    path: '/devices/matrix-absent/messages/deviceBound',
    body: 'hello',
    allowed: SERVICE,
    ok: 404,
  },
  'GET /messages/serviceBound/feedback': { path: '/messages/serviceBound/feedback', allowed: SERVICE, ok: 204 },
  'DELETE /messages/serviceBound/feedback/{lockToken}': {
    path: `/messages/serviceBound/feedback/${lock}`,
    allowed: SERVICE,
    ok: 412,
  },
  'POST /messages/serviceBound/feedback/{lockToken}/abandon': {
    path: `/messages/serviceBound/feedback/${lock}/abandon`,
    allowed: SERVICE,
    ok: 412,
  },
  // The hub's nodes (a Ferry extension): read-only.
  'GET /nodes': { path: '/nodes', allowed: SERVICE, ok: 200 },
  // Consumer groups: an invalid name (400) and an absent group (404) change nothing other cells read.
  'GET /eventHubEndpoints/events/consumerGroups': {
    path: '/eventHubEndpoints/events/consumerGroups',
    allowed: REGISTRY_READ,
    ok: 200,
  },
  'PUT /eventHubEndpoints/events/consumerGroups/{name}': {
    path: '/eventHubEndpoints/events/consumerGroups/-matrix-bad',
    allowed: REGISTRY_WRITE,
    ok: 400,
  },
  'DELETE /eventHubEndpoints/events/consumerGroups/{name}': {
    path: '/eventHubEndpoints/events/consumerGroups/matrix-absent',
    allowed: REGISTRY_WRITE,
    ok: 404,
  },
  'GET /eventHubEndpoints/events/consumerGroups/{name}': {
    path: '/eventHubEndpoints/events/consumerGroups/matrix-absent',
    allowed: REGISTRY_READ,
    ok: 404,
  },
  'GET /certificates': { path: '/certificates', allowed: REGISTRY_READ, ok: 200 },
  'GET /certificates/{name}': { path: '/certificates/matrix-absent', allowed: REGISTRY_READ, ok: 404 },
  'PUT /certificates/{name}': {
    path: '/certificates/matrix-absent',
    body: { properties: { certificate: 'not a certificate' } },
    allowed: REGISTRY_WRITE,
    ok: 400,
  },
  'POST /certificates/{name}/generateVerificationCode': {
    path: '/certificates/matrix-absent/generateVerificationCode',
    allowed: REGISTRY_WRITE,
    ok: 404,
  },
  'POST /certificates/{name}/verify': {
    path: '/certificates/matrix-absent/verify',
    body: { certificate: 'not a certificate' },
    allowed: REGISTRY_WRITE,
    ok: 404,
  },
  'DELETE /certificates/{name}': { path: '/certificates/matrix-absent', allowed: REGISTRY_WRITE, ok: 404 },
  'GET /hubInfo': { path: '/hubInfo', allowed: WHOLE_HUB_POLICIES, ok: 200 },
  'GET /devices/{id}/messages/deviceBound/pending': {
    path: '/devices/dev1/messages/deviceBound/pending',
    allowed: SERVICE,
    ok: 200,
  },
  'GET /devices/{id}/messages/deviceBound/deadLetters': {
    path: '/devices/dev1/messages/deviceBound/deadLetters',
    allowed: SERVICE,
    ok: 200,
  },
  'GET /devices/{id}/messages/deviceBound/history': {
    path: '/devices/dev1/messages/deviceBound/history?messageId=matrix-absent',
    allowed: SERVICE,
    ok: 200,
  },
  // No dead letter 999999 on dev1: an authorized call is refused as NotFound and changes nothing.
  'POST /devices/{id}/messages/deviceBound/deadLetters/{sequenceNumber}/requeue': {
    path: '/devices/dev1/messages/deviceBound/deadLetters/999999/requeue',
    allowed: SERVICE,
    ok: 404,
  },
  'DELETE /devices/{id}/messages/deviceBound/deadLetters/{sequenceNumber}': {
    path: '/devices/dev1/messages/deviceBound/deadLetters/999999',
    allowed: SERVICE,
    ok: 404,
  },
  'GET /events': { path: '/events', allowed: SERVICE, ok: 200, stream: true },
  'GET /events/telemetry': { path: '/events/telemetry', allowed: SERVICE, ok: 200, stream: true },
  'GET /twins/{id}': { path: '/twins/matrix-absent', allowed: TWIN_READ, ok: 404 },
  'PATCH /twins/{id}': { path: '/twins/matrix-absent', body: { tags: { a: 1 } }, allowed: SERVICE, ok: 404 },
  'PUT /twins/{id}': { path: '/twins/matrix-absent', body: { tags: { a: 1 } }, allowed: SERVICE, ok: 404 },
  'POST /twins/{id}/methods': {
    path: '/twins/matrix-absent/methods',
    body: { methodName: 'm' },
    allowed: SERVICE,
    ok: 404,
  },
  'POST /devices/query': {
    path: '/devices/query',
    body: { query: 'SELECT * FROM devices' },
    allowed: TWIN_READ,
    ok: 200,
  },
  // Jobs (docs/jobs.md): reads RegistryRead, writes RegistryWrite; an empty job is refused (400) once authorized.
  'GET /jobs/v2/query': { path: '/jobs/v2/query', allowed: REGISTRY_READ, ok: 200 },
  'PUT /jobs/v2/{id}': { path: '/jobs/v2/matrix-job', body: {}, allowed: REGISTRY_WRITE, ok: 400 },
  'GET /jobs/v2/{id}': { path: '/jobs/v2/matrix-absent', allowed: REGISTRY_READ, ok: 404 },
  'POST /jobs/v2/{id}/cancel': { path: '/jobs/v2/matrix-absent/cancel', allowed: REGISTRY_WRITE, ok: 404 },
};

let hub: HubProcess;
let agent: Agent;
const tokens = new Map<Credential, string | undefined>();

before(async () => {
  hub = await startHub();
  agent = new Agent({ keepAlive: true, ca: readFileSync(hub.caFile, 'utf8') });
  const dev1 = await hub.createDevice('dev1');
  const dev2 = await hub.createDevice('dev2');
  await hub.createDevice('matrix-put');
  const owner = parseHubConnectionString(hub.ownerConnectionString);
  const scoped = (path: string) =>
    createSasToken({
      resourceUri: `${owner.hostName}${path}`,
      key: owner.sharedAccessKey,
      keyName: 'iothubowner',
      expiry: Math.ceil(Date.now() / 1000) + 3600,
    });
  for (const policy of ['iothubowner', 'service', 'device', 'registryRead', 'registryReadWrite'] as const) {
    tokens.set(policy, serviceSas(hub, policy));
  }
  tokens.set('owner scoped to /devices/dev1', scoped('/devices/dev1'));
  tokens.set('owner scoped to /messages', scoped('/messages'));
  tokens.set('device dev1', deviceSas(dev1));
  // dev2's own valid token, used on dev1's routes.
  tokens.set('device dev2 (another device)', deviceSas(dev2));
  tokens.set('expired owner token', serviceSas(hub, 'iothubowner', { expiry: Math.floor(Date.now() / 1000) - 3600 }));
  tokens.set('owner token with a bad signature', serviceSas(hub, 'iothubowner', { key: WRONG_KEY }));
  tokens.set('no token', undefined);
});

after(async () => {
  agent?.destroy();
  await hub?.stop();
});

function call(
  method: string,
  row: Row,
  authorization: string | undefined,
): Promise<{ status: number; cacheControl: string | undefined; body: string }> {
  const body =
    row.body === undefined
      ? undefined
      : Buffer.from(typeof row.body === 'string' ? row.body : JSON.stringify(row.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hub.address,
        port: 443,
        method,
        path: `${row.path}${row.path.includes('?') ? '&' : '?'}${API}`,
        agent,
        timeout: 10_000,
        headers: {
          ...row.headers,
          ...(authorization ? { authorization } : {}),
          ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
        },
      },
      (res) => {
        const answer = { status: res.statusCode ?? 0, cacheControl: res.headers['cache-control'] };
        if (row.stream && answer.status === 200) {
          res.destroy();
          resolve({ ...answer, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ ...answer, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${row.path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

test('the matrix has a row for every route the hub serves, and no other', () => {
  assert.deepEqual(Object.keys(MATRIX).sort(), servedRouteNames().sort());
});

test('every route × every credential: the exact status, and Cache-Control: no-store', T, async () => {
  const wrong: string[] = [];
  for (const [name, row] of Object.entries(MATRIX)) {
    const method = name.split(' ')[0]!;
    for (const credential of CREDENTIALS) {
      const expected = row.allowed.includes(credential) ? row.ok : 401;
      const res = await call(method, row, tokens.get(credential));
      if (res.status !== expected) {
        wrong.push(`${name} as ${credential}: ${res.status}, expected ${expected} ${res.body.slice(0, 160)}`);
      }
      if (res.cacheControl !== 'no-store') wrong.push(`${name} as ${credential}: Cache-Control ${res.cacheControl}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('GET /hubInfo lists only the policies whose every right the caller can exercise', async () => {
  const listed = async (credential: Credential) => {
    const res = await call('GET', MATRIX['GET /hubInfo']!, tokens.get(credential));
    assert.equal(res.status, 200, credential);
    return (JSON.parse(res.body) as { policies: Array<{ keyName: string }> }).policies.map((p) => p.keyName).sort();
  };
  assert.deepEqual(await listed('iothubowner'), [
    'device',
    'iothubowner',
    'registryRead',
    'registryReadWrite',
    'service',
  ]);
  assert.deepEqual(await listed('service'), ['service']);
  assert.deepEqual(await listed('device'), ['device']);
  assert.deepEqual(await listed('registryRead'), ['registryRead']);
  assert.deepEqual(await listed('registryReadWrite'), ['registryRead', 'registryReadWrite']);
});
