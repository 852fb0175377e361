/**
 * Twins through the official azure-iothub Registry over TLS: getTwin, twin.update (PATCH with the
 * twin's etag), updateTwin with a stale etag (412, InvalidEtagError), PUT replacing tags and
 * desired, the documents' limits with IoT Hub's codes, the permissions, and createQuery with
 * paging and COUNT() ... GROUP BY, a query on connectionState with an official device connected,
 * and queries on lastActivityTime (an official device's connect) and cloudToDeviceMessageCount
 * (two messages queued through the official service client).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import common from 'azure-iot-common';
import type { Registry } from 'azure-iothub';
import iothub from 'azure-iothub';
import { type HubProcess, hubRequest, startHub } from './harness.js';
import { serviceSas } from './helpers/auth.js';
import { assertHubError } from './helpers/hub-error.js';
import { closeDevice, openDevice } from './helpers/official-device.js';
import { waitFor } from './helpers/wait.js';

const T = { timeout: 30_000 };
const API = 'api-version=2021-04-12';

let hub: HubProcess;
let registry: Registry;
const deviceStrings = new Map<string, string>();

before(async () => {
  hub = await startHub();
  registry = iothub.Registry.fromConnectionString(hub.ownerConnectionString);
  for (const id of ['tw-1', 'tw-2', 'tw-3', 'tw-4', 'tw-5']) deviceStrings.set(id, await hub.createDevice(id));
});

after(async () => {
  await hub?.stop();
});

async function rejection(p: Promise<unknown>): Promise<Error & { response?: { statusCode?: number } }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('the call was expected to fail');
}

function raw(
  method: string,
  path: string,
  body?: unknown,
  policy = 'iothubowner',
  headers: Record<string, string> = {},
) {
  return hubRequest(hub, method, `${path}?${API}`, {
    headers: { authorization: serviceSas(hub, policy), 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

test('getTwin answers the default twin with the registry fields', T, async () => {
  const { responseBody: twin } = await registry.getTwin('tw-1');
  assert.equal(twin.deviceId, 'tw-1');
  assert.equal(twin.etag, 'AAAAAAAAAAE=');
  assert.deepEqual(twin.tags, {});
  const t = twin as unknown as Record<string, unknown>;
  assert.equal(t.status, 'enabled');
  assert.equal(t.connectionState, 'Disconnected');
  assert.equal(t.authenticationType, 'sas');
  assert.equal(t.cloudToDeviceMessageCount, 0);
  assert.equal(t.version, 1);
  assert.equal(twin.properties.desired.$version, 1);
  assert.equal((twin.properties as { reported?: { $version?: number } }).reported?.$version, 1);
});

test('twin.update merges tags and desired; a stale etag gets 412', T, async () => {
  const { responseBody: twin } = await registry.getTwin('tw-2');
  const staleEtag = twin.etag;
  await twin.update({
    tags: { site: 'plant-3', floor: 2 },
    properties: { desired: { rate: 5, cfg: { mode: 'fast' } } },
  });
  assert.notEqual(twin.etag, staleEtag);
  assert.deepEqual(twin.tags, { site: 'plant-3', floor: 2 });
  assert.equal(twin.properties.desired.rate, 5);
  assert.equal(twin.properties.desired.$version, 2);
  const meta = twin.properties.desired.$metadata as Record<
    string,
    { $lastUpdatedVersion?: number; $lastUpdated?: string }
  >;
  assert.equal(meta.rate?.$lastUpdatedVersion, 2);
  assert.ok(!Number.isNaN(Date.parse(meta.rate?.$lastUpdated ?? '')));
  // null deletes a property; the rest stays.
  await twin.update({ tags: { floor: null }, properties: { desired: { cfg: null } } });
  assert.deepEqual(twin.tags, { site: 'plant-3' });
  assert.equal(twin.properties.desired.cfg, undefined);
  assert.equal(twin.properties.desired.rate, 5);
  assert.equal(twin.properties.desired.$version, 3);

  const err = await rejection(registry.updateTwin('tw-2', { tags: { x: 1 } }, staleEtag));
  assert.equal(err.name, 'InvalidEtagError');
  const stale = await raw('PATCH', '/twins/tw-2', { tags: { x: 1 } }, 'iothubowner', { 'if-match': `"${staleEtag}"` });
  assertHubError(stale, 412, 'PreconditionFailed', 'stale If-Match');
  // '*' is any etag.
  const { responseBody: forced } = await registry.updateTwin('tw-2', { tags: { x: 1 } }, '*');
  assert.equal((forced.tags as Record<string, unknown>).x, 1);
});

test('PUT /twins/{id} replaces tags and desired', T, async () => {
  await registry.updateTwin('tw-3', { tags: { a: 1, b: 2 }, properties: { desired: { old: true } } }, '*');
  const res = await raw('PUT', '/twins/tw-3', { tags: { c: 3 }, properties: { desired: { fresh: 'yes' } } });
  assert.equal(res.status, 200);
  const twin = JSON.parse(res.body.toString()) as {
    etag: string;
    tags: unknown;
    properties: { desired: Record<string, unknown> };
  };
  assert.equal(res.headers.etag, `"${twin.etag}"`);
  assert.deepEqual(twin.tags, { c: 3 });
  assert.equal(twin.properties.desired.old, undefined);
  assert.equal(twin.properties.desired.fresh, 'yes');
});

test('limits and names are refused with ArgumentInvalid; the twin is unchanged', T, async () => {
  const deep: Record<string, unknown> = {};
  let node = deep;
  for (let i = 0; i < 11; i++) {
    const child: Record<string, unknown> = {};
    node[`l${i}`] = child;
    node = child;
  }
  node.leaf = 1;
  const cases: Array<[string, unknown]> = [
    ['too deep', { properties: { desired: deep } }],
    ['tags over 8 KB', { tags: { big: 'x'.repeat(4000), big2: 'y'.repeat(4000), big3: 'z'.repeat(400) } }],
    ['a name with a dot', { tags: { 'a.b': 1 } }],
    ['a name with $', { properties: { desired: { $bad: 1 } } }],
    ['a name with a space', { tags: { 'a b': 1 } }],
    ['tags not an object', { tags: [1, 2] }],
    ['reported from the service', { properties: { reported: { x: 1 } } }],
  ];
  for (const [what, body] of cases) {
    assertHubError(
      await raw('PATCH', '/twins/tw-4', body, 'iothubowner', { 'if-match': '*' }),
      400,
      'ArgumentInvalid',
      what,
    );
  }
  const { responseBody: twin } = await registry.getTwin('tw-4');
  assert.equal(twin.etag, 'AAAAAAAAAAE=');
  assertHubError(await raw('GET', '/twins/nobody'), 404, 'DeviceNotFound', 'unknown device');
});

test('permissions: reads with RegistryRead or ServiceConnect, writes with ServiceConnect', T, async () => {
  assert.equal((await raw('GET', '/twins/tw-5', undefined, 'registryRead')).status, 200);
  assert.equal((await raw('GET', '/twins/tw-5', undefined, 'service')).status, 200);
  assertHubError(
    await raw('GET', '/twins/tw-5', undefined, 'device'),
    401,
    'IotHubUnauthorizedAccess',
    'device policy',
  );
  assertHubError(
    await raw('PATCH', '/twins/tw-5', { tags: { a: 1 } }, 'registryReadWrite'),
    401,
    'IotHubUnauthorizedAccess',
    'registryReadWrite cannot write twins',
  );
  assert.equal((await raw('PATCH', '/twins/tw-5', { tags: { a: 1 } }, 'service')).status, 200);
  const q = await raw('POST', '/devices/query', { query: 'SELECT * FROM devices' }, 'registryRead');
  assert.equal(q.status, 200);
});

test('createQuery pages with x-ms-continuation; COUNT() GROUP BY; syntax errors say where', T, async () => {
  for (const [id, site] of [
    ['tw-1', 'plant-1'],
    ['tw-3', 'plant-3'],
    ['tw-4', 'plant-3'],
  ] as const) {
    await registry.updateTwin(id, { tags: { site } }, '*');
  }
  const query = registry.createQuery("SELECT * FROM devices WHERE tags.site IN ['plant-3', 'plant-1']", 2);
  const ids: string[] = [];
  let pages = 0;
  while (query.hasMoreResults && pages < 10) {
    const { result } = await query.nextAsTwin();
    ids.push(...result.map((t) => t.deviceId));
    pages++;
  }
  assert.deepEqual(ids, ['tw-1', 'tw-2', 'tw-3', 'tw-4']);
  assert.equal(pages, 2);

  const counts = registry.createQuery('SELECT tags.site AS site, COUNT() AS n FROM devices GROUP BY tags.site');
  const { result } = await counts.next();
  const bySite = Object.fromEntries((result as Array<{ site?: string; n: number }>).map((r) => [r.site ?? '-', r.n]));
  assert.deepEqual(bySite, { 'plant-1': 1, 'plant-3': 3, '-': 1 });

  const bad = await raw('POST', '/devices/query', { query: 'SELECT * FROM devices WHERE tags.site = ' });
  assertHubError(bad, 400, 'ArgumentInvalid', 'syntax error');
  assert.match(bad.body.toString(), /line 1, position 41/);
});

test('a query on connectionState finds a connected official device, and not once it closed', T, async () => {
  const query = async (where: string): Promise<string[]> => {
    const q = registry.createQuery(`SELECT * FROM devices WHERE ${where}`, 100);
    const page = await q.nextAsTwin();
    return (page.result as Array<{ deviceId: string }>).map((t) => t.deviceId).sort();
  };
  const client = await openDevice(hub, deviceStrings.get('tw-5')!, 'Mqtt');
  try {
    // The connect is written to the store's presence records as it happens, not before the CONNACK.
    await waitFor(async () => ((await query("connectionState = 'Connected'")).includes('tw-5') ? true : undefined), {
      what: 'tw-5 Connected in a query',
    });
    assert.deepEqual(await query("connectionState = 'Connected'"), ['tw-5']);
    const { result } = await registry
      .createQuery("SELECT COUNT() AS n FROM devices WHERE connectionState = 'Disconnected'")
      .next();
    assert.deepEqual(result, [{ n: 4 }]);
  } finally {
    await closeDevice(client);
  }
  await waitFor(async () => ((await query("connectionState = 'Connected'")).length === 0 ? true : undefined), {
    what: 'no device Connected in a query',
  });
});

test(
  'queries on lastActivityTime and cloudToDeviceMessageCount: a device that connected, one with 2 queued messages',
  T,
  async () => {
    const twins = async (where: string): Promise<Array<{ deviceId: string; lastActivityTime: string }>> => {
      // next(), not nextAsTwin(): the SDK's Twin type does not declare lastActivityTime.
      const page = await registry.createQuery(`SELECT * FROM devices WHERE ${where}`, 100).next();
      return (page.result as Array<{ deviceId: string; lastActivityTime: string }>).sort((a, b) =>
        a.deviceId.localeCompare(b.deviceId),
      );
    };
    const ids = async (where: string) => (await twins(where)).map((t) => t.deviceId);

    const service = iothub.Client.fromConnectionString(hub.ownerConnectionString);
    await service.open();
    try {
      for (const n of [1, 2]) await service.send('tw-3', new common.Message(`queued ${n}`));
    } finally {
      await service.close();
    }
    // Sent is committed: the count is there at once.
    assert.deepEqual(await ids('cloudToDeviceMessageCount = 2'), ['tw-3']);
    const projected = await registry
      .createQuery('SELECT deviceId, cloudToDeviceMessageCount FROM devices WHERE cloudToDeviceMessageCount > 0')
      .next();
    assert.deepEqual(projected.result, [{ deviceId: 'tw-3', cloudToDeviceMessageCount: 2 }]);
    const byQueue = await registry
      .createQuery(
        'SELECT cloudToDeviceMessageCount AS queued, COUNT() AS n FROM devices GROUP BY cloudToDeviceMessageCount',
      )
      .next();
    assert.deepEqual(
      (byQueue.result as Array<{ queued: number; n: number }>).sort((a, b) => a.queued - b.queued),
      [
        { queued: 0, n: 4 },
        { queued: 2, n: 1 },
      ],
    );

    const since = new Date().toISOString();
    assert.deepEqual(await ids(`lastActivityTime > '${since}'`), []);
    const client = await openDevice(hub, deviceStrings.get('tw-4')!, 'Mqtt');
    try {
      // The connect is activity, written to the store's presence records as it happens.
      const active = await waitFor(
        async () => {
          const found = await twins(`lastActivityTime > '${since}'`);
          return found.length > 0 ? found : undefined;
        },
        { what: `a device active since ${since} in a query` },
      );
      assert.deepEqual(
        active.map((t) => t.deviceId),
        ['tw-4'],
      );
      assert.ok(active[0]!.lastActivityTime > since, active[0]!.lastActivityTime);
      const never = await ids("lastActivityTime = '0001-01-01T00:00:00Z'");
      assert.ok(never.includes('tw-1') && !never.includes('tw-4'), never.join());
    } finally {
      await closeDevice(client);
    }
  },
);
